/**
 * Dispatch against a real mosquitto, with simulated officers' phones answering over MQTT:
 * nearest first; decline and timeout go to the next-nearest; nobody available alerts the
 * platform; "1+3" neighbouring towns; never double-booked; and a restart in the middle
 * of a dispatch. Events are injected after confirmation (test/helpers/inject.ts); every
 * message the gateway publishes is checked against docs/asyncapi.yaml.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import mqtt from 'mqtt';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector, type Heard } from '../helpers/collector.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { injectEvent } from '../helpers/inject.ts';
import { loadContract } from '../helpers/contract.ts';
import { OfficerSim, type SimOfficer } from '../../scripts/sim/officers.ts';
import type { Gateway } from '../../gateway/controller.ts';

const ok = havePeers('mosquitto');
const CAM = { lat: 28.7712, lon: 118.5553 };
/** An officer `m` metres north of the camera. */
const north = (id: string, m: number, extra: Partial<SimOfficer> = {}): SimOfficer => ({
  id,
  lat: CAM.lat + m / 111_320,
  lon: CAM.lon,
  ...extra,
});

function yaml(dir: string, broker: string, o: { ack?: number; radius?: number; maxJobs?: number; deadline?: number } = {}) {
  return `
gateway: { id: gw-d, town: 贺村镇, data_dir: ${dir}/data }
mqtt: { url: '${broker}', prefix: t, protocol_version: 5 }
http: { host: 127.0.0.1, port: 0 }
stats: { interval_s: 0 }
dispatch: { ack_timeout_s: ${o.ack ?? 3}, local_radius_m: ${o.radius ?? 2000}, neighbour_towns: [大陈乡], retry_s: 2, position_max_age_s: 600, max_jobs_per_officer: ${o.maxJobs ?? 1}, deadline_s: ${o.deadline ?? 1800} }
cameras:
  - id: cam-a
    name: 中心街广场
    enabled: false
    url: rtsp://127.0.0.1:9/none
    location: { lat: ${CAM.lat}, lon: ${CAM.lon} }
    zones:
      - id: plaza
        name: 广场步行区
        polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]
        rules: [{ type: illegal_parking }]
officers:
  - { id: off-a, name: 甲, town: 贺村镇 }
  - { id: off-b, name: 乙, town: 贺村镇 }
  - { id: off-c, name: 丙, town: 贺村镇 }
  - { id: off-n, name: 邻, town: 大陈乡 }
  - { id: off-x, name: 外, town: 远方镇 }
`;
}

describe.runIf(ok)('dispatch to the nearest officer', () => {
  let broker: Mosquitto;
  let heard: Collector;
  const running: { gw: Gateway | null; sim: OfficerSim | null } = { gw: null, sim: null };
  const all: Heard[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url, 't/#');
  });
  afterEach(async () => {
    await running.sim?.stop();
    await running.gw?.stop();
    running.sim = running.gw = null;
    all.push(...heard.messages.splice(0));
  });
  afterAll(async () => {
    await heard?.close();
    await broker?.stop();
  });

  async function start(
    officers: SimOfficer[],
    o: Parameters<typeof yaml>[2] & { speedMps?: number; workS?: number } = {},
    dir = tempDir('gw-dispatch-'),
  ) {
    running.sim = new OfficerSim({
      broker: broker.url,
      prefix: 't',
      officers,
      walk: false,
      everyMs: 1000,
      answerAfterS: 0.3,
      speedMps: o.speedMps ?? 200,
      workS: o.workS ?? 0.5,
    });
    await running.sim.start();
    running.gw = await startGateway(settingsAt(dir, yaml(dir, broker.url, o)));
    // Positions reach the gateway before the first event.
    await until(
      () => running.gw!.ctx.db.prepare('SELECT count(*) AS n FROM officer_state').get() as { n: number },
      (r) => r.n >= officers.length,
      'officer positions',
    );
    return { gw: running.gw, dir };
  }

  const path = (id: string) =>
    heard
      .find((m) => m.topic === `t/v1/gateways/gw-d/events/${id}/state`)
      .map((m) => m.json!.to + (m.json!.officer_id && m.json!.to === 'dispatched' ? `:${m.json!.officer_id}` : ''));
  const offers = (id: string) =>
    heard
      .find((m) => m.topic === 't/v1/gateways/gw-d/dispatches' && m.json!.event_id === id && m.json!.state === 'offered')
      .map((m) => m.json!.officer_id);
  const waitState = (id: string, to: string, ms = 15_000) =>
    heard.waitFor((m) => m.json?.event_id === id && m.json?.to === to, ms, `${to} of ${id}`);

  it('offers the event to the nearest available officer, with place, evidence link and deadline', async () => {
    const { gw } = await start([north('off-a', 800), north('off-b', 200), north('off-c', 500, { onDuty: false })]);
    const e = await injectEvent(gw, 'cam-a');
    const offer = await heard.waitFor((m) => m.topic === 't/v1/officers/off-b/dispatch', 10_000, 'offer to off-b');
    expect(offer.json).toMatchObject({
      event_id: e.id,
      state: 'offered',
      officer_id: 'off-b',
      tier: 'local',
      attempt: 1,
      type: 'illegal_parking',
    });
    expect(offer.json!.distance_m).toBeGreaterThan(150);
    expect(offer.json!.distance_m).toBeLessThan(250);
    expect(offer.json!.place).toMatchObject({
      camera_id: 'cam-a',
      camera_name: '中心街广场',
      zone: '广场步行区',
      lat: CAM.lat,
      lon: CAM.lon,
    });
    expect(Date.parse(offer.json!.answer_by) - Date.parse(offer.json!.at)).toBe(3000);
    expect(Date.parse(offer.json!.deadline)).toBeGreaterThan(Date.parse(offer.json!.at));
    // The evidence link works, with the token it carries, and the picture is the one named.
    const res = await fetch(offer.json!.evidence.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(
      createHash('sha256')
        .update(Buffer.from(await res.arrayBuffer()))
        .digest('hex'),
    ).toBe(offer.json!.evidence.sha256);
    expect(path(e.id)).toEqual(['confirmed', 'escalated', 'dispatched:off-b']);
    expect(heard.find((m) => m.topic === 't/v1/officers/off-a/dispatch')).toHaveLength(0);
  });

  it('after a decline asks the next-nearest, who accepts, arrives and closes', async () => {
    const { gw } = await start([
      north('off-a', 200, { behaviour: 'decline', declineReason: '在处理别的事' }),
      north('off-b', 600, { behaviour: 'accept' }),
    ]);
    const e = await injectEvent(gw, 'cam-a');
    await waitState(e.id, 'closed', 20_000);
    await heard.waitFor((m) => m.topic === 't/v1/gateways/gw-d/dispatches' && m.json!.state === 'closed', 5000, 'dispatch closed');
    expect(path(e.id)).toEqual([
      'confirmed',
      'escalated',
      'dispatched:off-a',
      'escalated',
      'dispatched:off-b',
      'acknowledged',
      'arrived',
      'closed',
    ]);
    const declined = heard.find((m) => m.json?.event_id === e.id && m.json?.from === 'dispatched' && m.json?.to === 'escalated')[0];
    expect(declined.json!.reason).toBe('declined by 甲 (off-a): 在处理别的事');
    // The platform sees each dispatch state; the phones get confirmations of their answers.
    const states = heard
      .find((m) => m.topic === 't/v1/gateways/gw-d/dispatches' && m.json!.event_id === e.id)
      .map((m) => `${m.json!.officer_id}:${m.json!.state}`);
    expect(states).toEqual(['off-a:offered', 'off-a:declined', 'off-b:offered', 'off-b:accepted', 'off-b:arrived', 'off-b:closed']);
    expect(heard.find((m) => m.topic === 't/v1/officers/off-b/dispatch').map((m) => m.json!.state)).toEqual([
      'offered',
      'accepted',
      'arrived',
      'closed',
    ]);
    const rows = gw.ctx.db.prepare('SELECT officer_id, state, attempt FROM dispatches WHERE event_id = ? ORDER BY attempt').all(e.id);
    expect(rows).toEqual([
      { officer_id: 'off-a', state: 'declined', attempt: 1 },
      { officer_id: 'off-b', state: 'closed', attempt: 2 },
    ]);
  });

  it('after no answer within the timeout asks the next-nearest', async () => {
    const { gw } = await start([north('off-a', 200, { behaviour: 'ignore' }), north('off-b', 600, { behaviour: 'ignore' })]);
    const e = await injectEvent(gw, 'cam-a');
    await heard.waitFor(
      (m) => m.topic === 't/v1/gateways/gw-d/dispatches' && m.json!.officer_id === 'off-b' && m.json!.state === 'offered',
      10_000,
      'offer to off-b',
    );
    const timedOut = heard.find((m) => m.topic === 't/v1/officers/off-a/dispatch').map((m) => m.json!.state);
    expect(timedOut).toEqual(['offered', 'timed_out']);
    const t = heard.find((m) => m.json?.event_id === e.id && m.json?.to === 'escalated').at(-1)!;
    expect(t.json!.reason).toMatch(/no answer from 甲 \(off-a\) within 3 s/);
    expect(offers(e.id)).toEqual(['off-a', 'off-b']);
  });

  it('alerts the platform when nobody is available, and dispatches once someone is', async () => {
    const { gw } = await start([north('off-a', 200, { onDuty: false, behaviour: 'accept' })]);
    const e = await injectEvent(gw, 'cam-a');
    await waitState(e.id, 'unassigned');
    const alert = await heard.waitFor((m) => m.topic === 't/v1/gateways/gw-d/alerts', 5000, 'alert');
    expect(alert.json).toMatchObject({ kind: 'no_officer', event_id: e.id });
    await new Promise((r) => setTimeout(r, 3000));
    // Retried, but one alert: the platform is not flooded.
    expect(heard.find((m) => m.topic === 't/v1/gateways/gw-d/alerts')).toHaveLength(1);
    running.sim!.officer('off-a')!.onDuty = true;
    await running.sim!.report();
    await waitState(e.id, 'acknowledged');
    expect(path(e.id).slice(0, 4)).toEqual(['confirmed', 'escalated', 'unassigned', 'dispatched:off-a']);
  });

  it('asks a neighbouring town\'s officer when nobody local is in range ("1+3"), never another town\'s', async () => {
    const { gw } = await start([north('off-a', 5000), north('off-n', 1000), north('off-x', 100)], { radius: 2000 });
    const e = await injectEvent(gw, 'cam-a');
    const offer = await heard.waitFor((m) => m.topic === 't/v1/gateways/gw-d/dispatches' && m.json!.event_id === e.id, 10_000, 'offer');
    expect(offer.json).toMatchObject({ officer_id: 'off-n', tier: 'neighbour', town: '大陈乡' });
    expect(heard.find((m) => m.topic === 't/v1/officers/off-x/dispatch')).toHaveLength(0);
    // A local officer in range beats a nearer neighbour.
    running.sim!.officer('off-a')!.lat = CAM.lat + 1500 / 111_320;
    await running.sim!.report();
    await new Promise((r) => setTimeout(r, 300));
    const e2 = await injectEvent(gw, 'cam-a');
    const offer2 = await heard.waitFor((m) => m.topic === 't/v1/gateways/gw-d/dispatches' && m.json!.event_id === e2.id, 10_000, 'offer 2');
    expect(offer2.json).toMatchObject({ officer_id: 'off-a', tier: 'local' });
  });

  it('never gives one officer two events at once', async () => {
    // off-a accepts and is slow to finish; off-b is farther.
    const { gw } = await start([north('off-a', 200, { behaviour: 'accept' }), north('off-b', 900, { behaviour: 'accept' })], {
      ack: 5,
      speedMps: 100,
    });
    const e1 = await injectEvent(gw, 'cam-a');
    await waitState(e1.id, 'acknowledged');
    const e2 = await injectEvent(gw, 'cam-a');
    const o2 = await heard.waitFor(
      (m) => m.topic === 't/v1/gateways/gw-d/dispatches' && m.json!.event_id === e2.id,
      10_000,
      'second offer',
    );
    expect(o2.json!.officer_id).toBe('off-b');
    await waitState(e1.id, 'closed', 20_000);
    await waitState(e2.id, 'closed', 20_000);
    // With one officer only, the second event waits until the first is closed.
    const busy = gw.ctx.db
      .prepare(`SELECT a.event_id AS e1, b.event_id AS e2 FROM dispatches a JOIN dispatches b ON a.officer_id = b.officer_id AND a.event_id < b.event_id
      WHERE a.state IN ('accepted','arrived','closed') AND b.state IN ('accepted','arrived','closed') AND b.accepted_at < a.closed_at AND a.accepted_at < b.closed_at`)
      .all();
    expect(busy).toEqual([]);
  });

  it('with one officer, holds the second event until the first is closed', async () => {
    const { gw } = await start([north('off-a', 200, { behaviour: 'accept' })], { ack: 5 });
    const e1 = await injectEvent(gw, 'cam-a');
    await waitState(e1.id, 'dispatched');
    const e2 = await injectEvent(gw, 'cam-a');
    await waitState(e2.id, 'unassigned');
    await waitState(e1.id, 'closed');
    await waitState(e2.id, 'closed', 20_000);
    const t = (id: string, to: string) => Date.parse(heard.find((m) => m.json?.event_id === id && m.json?.to === to)[0].json!.at);
    expect(t(e2.id, 'dispatched')).toBeGreaterThanOrEqual(t(e1.id, 'closed'));
  });

  it('continues a dispatch across a restart: the answer timer fires after it, and answers still count', async () => {
    const dir = tempDir('gw-dispatch-restart-');
    const { gw } = await start(
      [north('off-a', 200, { behaviour: 'ignore' }), north('off-b', 600, { behaviour: 'accept' })],
      { ack: 4 },
      dir,
    );
    const e = await injectEvent(gw, 'cam-a');
    await heard.waitFor((m) => m.topic === 't/v1/officers/off-a/dispatch', 10_000, 'offer to off-a');
    await gw.stop();
    running.gw = null;
    await new Promise((r) => setTimeout(r, 1000));
    running.gw = await startGateway(settingsAt(dir, yaml(dir, broker.url, { ack: 4 })));
    await waitState(e.id, 'closed', 25_000);
    expect(path(e.id)).toEqual([
      'confirmed',
      'escalated',
      'dispatched:off-a',
      'escalated',
      'dispatched:off-b',
      'acknowledged',
      'arrived',
      'closed',
    ]);
    // The same event, published once: a restart does not make a second one.
    expect(heard.find((m) => m.topic === 't/v1/gateways/gw-d/events' && m.json!.id === e.id)).toHaveLength(1);
  });

  it("answers an officer's MQTT 5 request with an envelope; bad answers change nothing", async () => {
    const { gw } = await start([north('off-a', 200, { behaviour: 'ignore' })], { ack: 30 });
    const e = await injectEvent(gw, 'cam-a');
    const offer = await heard.waitFor((m) => m.topic === 't/v1/officers/off-a/dispatch', 10_000, 'offer');
    const phone = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const replies: Record<string, any>[] = [];
    phone.on('message', (_t, p, packet) =>
      replies.push({ ...JSON.parse(p.toString()), corr: packet.properties?.correlationData?.toString() }),
    );
    await phone.subscribeAsync('phone/off-a/replies', { qos: 1 });
    const ask = async (body: string, corr: string) => {
      await phone.publishAsync('t/v1/officers/off-a/reply', body, {
        qos: 1,
        properties: { responseTopic: 'phone/off-a/replies', correlationData: Buffer.from(corr) },
      });
      const end = Date.now() + 5000;
      while (!replies.some((r) => r.corr === corr)) {
        if (Date.now() > end) throw new Error(`no reply ${corr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return replies.find((r) => r.corr === corr)!;
    };
    expect(await ask('{"dispatch_id": ', 'c1')).toMatchObject({ status: 'error', error: { code: 'bad_json' } });
    expect(await ask(JSON.stringify({ dispatch_id: offer.json!.dispatch_id, action: 'maybe' }), 'c2')).toMatchObject({
      status: 'error',
      error: { code: 'invalid' },
    });
    expect(gw.ctx.db.prepare('SELECT state FROM events WHERE id = ?').get(e.id)).toEqual({ state: 'dispatched' });
    expect(await ask(JSON.stringify({ dispatch_id: offer.json!.dispatch_id, action: 'accept' }), 'c3')).toMatchObject({
      status: 'ok',
      data: { state: 'accepted', changed: true },
    });
    expect(await ask(JSON.stringify({ dispatch_id: offer.json!.dispatch_id, action: 'accept' }), 'c4')).toMatchObject({
      status: 'ok',
      data: { state: 'accepted', changed: false },
    });
    await waitState(e.id, 'acknowledged');
    await phone.endAsync();
    const contract = await loadContract('t');
    for (const { corr: _c, ...r } of replies) expect(contract.checkMessage('OfficerAnswerReply', r)).toEqual([]);
  });

  it('alerts the platform when an accepted matter passes its deadline', async () => {
    const { gw } = await start([north('off-a', 200, { behaviour: 'accept' })], { deadline: 2, speedMps: 1 });
    const e = await injectEvent(gw, 'cam-a');
    await waitState(e.id, 'acknowledged');
    const alert = await heard.waitFor(
      (m) => m.topic === 't/v1/gateways/gw-d/alerts' && m.json!.kind === 'overdue',
      10_000,
      'overdue alert',
    );
    expect(alert.json).toMatchObject({ event_id: e.id, officer_id: 'off-a' });
    expect(alert.json!.message).toMatch(/甲 \(off-a\) is past its deadline/);
  });

  it('published only messages that match the contract (docs/asyncapi.yaml)', async () => {
    const contract = await loadContract('t');
    const problems: string[] = [];
    let checked = 0;
    for (const m of all) {
      const r = contract.check(m.topic, m.json ?? m.text);
      if (r === 'incoming') continue;
      checked++;
      problems.push(...r);
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });
});

async function until<T>(get: () => T, ok: (v: T) => boolean, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
