/**
 * The gateway's HTTP API: evidence pictures behind a token (the API token, or the
 * per-picture token in the published link), event records for filling gaps, statistics
 * and health. A real gateway with a real mosquitto; the events are injected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { injectEvent } from '../helpers/inject.ts';
import { loadContract } from '../helpers/contract.ts';
import type { Gateway } from '../../gateway/controller.ts';
import type { EventRecord } from '../../gateway/events/types.ts';

const ok = havePeers('mosquitto');

describe.runIf(ok)('HTTP API', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let gw: Gateway;
  let e1: EventRecord;
  let e2: EventRecord;
  let link = '';
  let sha = '';
  const dir = tempDir('gw-http-');
  const token = 'a-long-enough-api-token-0123456789';
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetch(`${gw.http!.base}${path}`, { headers, method });
  const bearer = { authorization: `Bearer ${token}` };

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url, 'h/#');
    gw = await startGateway(
      settingsAt(
        dir,
        `
gateway: { id: gw-h, data_dir: ${dir}/data }
mqtt: { url: '${broker.url}', prefix: h }
http: { host: 127.0.0.1, port: 0, token: ${token} }
stats: { interval_s: 0 }
cameras:
  - { id: cam, enabled: false, url: 'rtsp://127.0.0.1:9/x', location: { lat: 28.77, lon: 118.55 }, zones: [{ id: z, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], rules: [{ type: illegal_parking }] }] }
`,
      ),
    );
    e1 = await injectEvent(gw, 'cam', { label: 'car' });
    e2 = await injectEvent(gw, 'cam', { label: 'truck' });
    const ev = await heard.waitFor((m) => m.topic === 'h/v1/gateways/gw-h/events' && m.json?.id === e1.id, 10_000, 'event');
    link = ev.json!.evidence.url;
    sha = ev.json!.evidence.sha256;
  });

  afterAll(async () => {
    await gw?.stop();
    await heard?.close();
    await broker?.stop();
  });

  it('serves the picture from the published link, whose token opens that picture only', async () => {
    expect(link).toMatch(new RegExp(`^${gw.http!.base}/evidence/${e1.id}\\.jpg\\?token=[0-9a-z]+\\.[\\w-]{32}$`));
    expect(link).not.toContain(token);
    const res = await fetch(link);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${sha}"`);
    expect(
      createHash('sha256')
        .update(Buffer.from(await res.arrayBuffer()))
        .digest('hex'),
    ).toBe(sha);
    const other = link.replace(e1.id, e2.id);
    expect((await fetch(other)).status).toBe(403);
    expect((await get(`/events/${e1.id}?token=${new URL(link).searchParams.get('token')}`)).status).toBe(403);
  });

  it('wants a token: 401 without, 403 when wrong; the API token works as header or query', async () => {
    expect((await get(`/evidence/${e1.id}.jpg`)).status).toBe(401);
    expect((await get(`/evidence/${e1.id}.jpg`)).headers.get('www-authenticate')).toBe('Bearer');
    expect((await get(`/evidence/${e1.id}.jpg?token=nope`)).status).toBe(403);
    expect((await get(`/evidence/${e2.id}.jpg`, bearer)).status).toBe(200);
    expect((await get(`/evidence/${e2.id}.jpg?token=${token}`)).status).toBe(200);
    expect((await get(`/evidence/${e1.id}.jpg`, { ...bearer, 'if-none-match': `"${sha}"` })).status).toBe(304);
    const head = await get(`/evidence/${e1.id}.jpg`, bearer, 'HEAD');
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(100);
  });

  it('answers unknown pictures, paths and methods plainly', async () => {
    expect((await get('/evidence/01ARZ3NDEKTSV4RRFFQ69G5FAV.jpg', bearer)).status).toBe(404);
    expect((await get('/evidence/..%2F..%2Fetc%2Fpasswd', bearer)).status).toBe(404);
    expect((await get('/evidence/../../etc/passwd', bearer)).status).toBe(404);
    expect((await get('/nothing', bearer)).status).toBe(404);
    expect((await get(`/evidence/${e1.id}.jpg`, bearer, 'DELETE')).status).toBe(405);
  });

  it('gives an event with its transitions, events after a sequence number, statistics and health', async () => {
    const contract = await loadContract('h');
    const one = (await (await get(`/events/${e1.id}`, bearer)).json()) as Record<string, any>;
    expect(one.event.id).toBe(e1.id);
    expect(contract.checkMessage('Event', { msg_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV', ...one.event })).toEqual([]);
    expect(one.transitions.map((t: { to: string }) => t.to).slice(0, 2)).toEqual(['confirmed', 'escalated']);
    expect(one.transitions[1].reason).toBe('no speaker at this camera');
    const after = (await (await get(`/events?after_seq=${e1.seq}`, bearer)).json()) as { events: { event: { id: string; seq: number } }[] };
    expect(after.events.map((x) => x.event.id)).toEqual([e2.id]);
    expect((await get('/events?after_seq=-1', bearer)).status).toBe(400);
    const stats = (await (await get('/stats', bearer)).json()) as Record<string, any>;
    expect(stats.events.total).toBe(2);
    expect(stats.by_type).toEqual({ illegal_parking: 2 });
    expect((await get('/stats')).status).toBe(401);
    const health = (await (await get('/health')).json()) as Record<string, any>;
    expect(health).toMatchObject({ status: 'ok', mqtt: { connected: true, error: null } });
  });
});
