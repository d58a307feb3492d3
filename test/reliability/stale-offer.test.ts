/**
 * A stale offer after an outage: the offer was sent just as the link went (a proxy in front
 * of a real mosquitto stops forwarding, then drops the connection), so it never reached the
 * broker and was still in flight. The offer is paused and sent again after the reconnect;
 * the old copy (mqtt.js keeps unacknowledged messages of a persistent session and sends them
 * again on reconnect) must not reach the phone beside it with its older answer time.
 */
import { createServer, connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { injectEvent } from '../helpers/inject.ts';
import type { Gateway } from '../../gateway/controller.ts';

const ok = havePeers('mosquitto');
const CAM = { lat: 28.7712, lon: 118.5553 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.runIf(ok)('an offer in flight when the link drops', () => {
  let broker: Mosquitto;
  let gw: Gateway;
  let phone: MqttClient;
  /** pass: forward; drop: swallow what is sent (a dying link); refuse: close every connection. */
  let mode: 'pass' | 'drop' | 'refuse' = 'pass';
  const sockets: Socket[] = [];
  const proxy = createServer((inbound) => {
    if (mode === 'refuse') return void inbound.destroy();
    const out = connect(broker.port, '127.0.0.1');
    sockets.push(inbound, out);
    inbound.on('data', (d) => mode === 'pass' && out.write(d));
    out.on('data', (d) => mode === 'pass' && inbound.write(d));
    inbound.on('error', () => out.destroy());
    out.on('error', () => inbound.destroy());
    inbound.on('close', () => out.destroy());
    out.on('close', () => inbound.destroy());
  });
  const got: { json: Record<string, any>; at: number }[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const port = (proxy.address() as { port: number }).port;
    phone = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'phones-stale' });
    phone.on('message', (_t, payload) => got.push({ json: JSON.parse(payload.toString()), at: Date.now() }));
    await phone.subscribeAsync('s/v1/officers/+/dispatch', { qos: 1 });
    const dir = tempDir('gw-stale-offer-');
    gw = await startGateway(
      settingsAt(
        dir,
        `
gateway: { id: gw-s, town: 贺村镇, data_dir: ${dir}/data }
mqtt: { url: 'mqtt://127.0.0.1:${port}', prefix: s, protocol_version: 5 }
http: { enabled: false }
stats: { interval_s: 0 }
dispatch: { ack_timeout_s: 20, retry_s: 2, position_max_age_s: 600 }
cameras:
  - id: cam
    enabled: false
    url: rtsp://127.0.0.1:9/none
    location: { lat: ${CAM.lat}, lon: ${CAM.lon} }
    zones: [{ id: z, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], rules: [{ type: illegal_parking }] }]
officers:
  - { id: off-a, name: 甲, town: 贺村镇 }
`,
      ),
    );
    const end = Date.now() + 10_000;
    while (!gw.ctx.uplink.connected) {
      if (Date.now() > end) throw new Error('gateway did not connect');
      await sleep(50);
    }
    await phone.publishAsync(
      's/v1/officers/off-a/state',
      JSON.stringify({ lat: CAM.lat + 200 / 111_320, lon: CAM.lon, at: new Date().toISOString() }),
      { qos: 1 },
    );
    while ((gw.ctx.db.prepare('SELECT count(*) AS n FROM officer_state').get() as { n: number }).n < 1) {
      if (Date.now() > end) throw new Error('officer position did not arrive');
      await sleep(50);
    }
  }, 30_000);

  afterAll(async () => {
    await phone?.endAsync(true);
    await gw?.stop();
    for (const s of sockets) s.destroy();
    proxy.close();
    await broker?.stop();
  });

  const waitFor = async (what: string, cond: () => boolean, ms = 15_000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };

  /** The link dies: what the gateway sends is swallowed, then the connection is closed and refused. */
  const linkDown = async (swallow: () => Promise<void>) => {
    mode = 'drop';
    await swallow();
    mode = 'refuse';
    for (const s of sockets.splice(0)) s.destroy();
    await waitFor('the link to drop', () => !gw.ctx.uplink.connected);
  };
  const linkUp = async () => {
    mode = 'pass';
    await waitFor('the link to come back', () => gw.ctx.uplink.connected);
    await waitFor('the outbox to empty', () => gw.ctx.uplink.pending() === 0);
    await sleep(1500); // room for a late copy
  };

  it('the phone sees one offer after the reconnect, with the new answer time', async () => {
    let e = { id: '' };
    const offered = () =>
      gw.ctx.db.prepare("SELECT id FROM dispatches WHERE event_id = ? AND state = 'offered'").get(e.id) as { id: string };
    await linkDown(async () => {
      e = await injectEvent(gw, 'cam');
      await waitFor('the offer', () => !!offered());
      await sleep(300);
    });
    const pausedAt = Date.now();
    // Shorter than the answer time (20 s): the old copy has not expired.
    await sleep(2000);
    expect(got).toEqual([]);
    await linkUp();
    const offers = got.filter((m) => m.json.event_id === e.id && m.json.state === 'offered');
    expect(offers.map((m) => m.json.dispatch_id)).toEqual([offered().id]);
    const [offer] = offers;
    expect(Date.parse(offer.json.answer_by) - Date.parse(offer.json.at)).toBe(20_000);
    expect(Date.parse(offer.json.at)).toBeGreaterThan(pausedAt + 2000);
    await phone.publishAsync('s/v1/officers/off-a/reply', JSON.stringify({ dispatch_id: offer.json.dispatch_id, action: 'accept' }), {
      qos: 1,
    });
  }, 60_000);

  it('a message taken back while in flight is not sent again after the reconnect', async () => {
    got.length = 0;
    const topic = 's/v1/officers/off-b/dispatch';
    const payload = (n: number) => JSON.stringify({ msg_id: `m${n}`, dispatch_id: 'd-1', state: n === 1 ? 'offered' : 'withdrawn' });
    await linkDown(async () => {
      gw.ctx.uplink.enqueue({ topic, payload: payload(1), qos: 1, priority: 0, orderKey: 'ev-x' });
      gw.ctx.uplink.flush();
      await waitFor('the message in flight', () => (gw.ctx.uplink as unknown as { callbacks: Map<number, unknown> }).callbacks.size > 0);
    });
    expect(gw.ctx.uplink.unsend(topic, 'ev-x', { dispatch_id: 'd-1', state: 'offered' })).toBe(1);
    gw.ctx.uplink.enqueue({ topic, payload: payload(2), qos: 1, priority: 0, orderKey: 'ev-x' });
    await linkUp();
    expect(got.filter((m) => m.json.dispatch_id === 'd-1').map((m) => m.json.msg_id)).toEqual(['m2']);
  }, 60_000);
});
