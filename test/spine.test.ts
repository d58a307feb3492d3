/**
 * The whole spine through real parts: ffmpeg plays two scenario videos made from real
 * photographs, YOLOX-Nano detects the taxi, the tracker and the illegal_parking rule
 * confirm it, espeak-ng speaks the warning, G.711 RTP reaches a recording speaker, and
 * every step reaches a real mosquitto broker. One taxi stays (escalated and dispatched
 * to the nearest officer), the other leaves after the warning (resolved by warning).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { havePeers } from './peers/require.ts';
import { startMosquitto, type Mosquitto } from './peers/mosquitto.ts';
import { Collector, type Heard } from './helpers/collector.ts';
import { settingsAt, startGateway, tempDir } from './helpers/gateway.ts';
import { ensureScenario } from '../scripts/scenario.ts';
import { RtpRecorder } from '../scripts/sim/rtp-speaker.ts';
import { OfficerSim } from '../scripts/sim/officers.ts';
import type { Gateway } from '../gateway/controller.ts';
import { ROOT } from '../gateway/paths.ts';
import { loadContract } from './helpers/contract.ts';

const ok = havePeers('ffmpeg', 'espeak-ng', 'mosquitto');
const CAM = { lat: 28.7712, lon: 118.5553 };

function settings(o: {
  dir: string;
  broker: string;
  stay: string;
  leave: string;
  portStay: number;
  portLeave: number;
  grace: number;
  only?: 'stay';
}) {
  const cam = (id: string, url: string, _port: string) => `
  - id: ${id}
    url: ${url}
    location: { lat: ${CAM.lat}, lon: ${CAM.lon} }
    interval_s: 1
    speakers: [spk-${id}]
    zones:
      - id: plaza
        polygon: [[0.45, 0.78], [0.98, 0.78], [0.98, 0.999], [0.45, 0.999]]
        rules:
          - { type: illegal_parking, dwell_s: 3, grace_s: ${o.grace}, message: 请驶离 }`;
  return `
gateway: { id: gw-spine, data_dir: ${o.dir}/data }
mqtt: { url: '${o.broker}', prefix: t, protocol_version: 5 }
tracking: { max_missed_s: 4 }
cameras:${cam('stay', o.stay, String(o.portStay))}${o.only ? '' : cam('leave', o.leave, String(o.portLeave))}
speakers:
  - { id: spk-stay, url: 'rtp://127.0.0.1:${o.portStay}' }
  - { id: spk-leave, url: 'rtp://127.0.0.1:${o.portLeave}' }
officers:
  - { id: off-near, name: 近 }
  - { id: off-far, name: 远 }
`;
}

describe.runIf(ok)('spine: camera to warned, escalated or resolved event on MQTT', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let gw: Gateway | null = null;
  let officers: OfficerSim;
  const rec = { stay: new RtpRecorder({ port: 0 }), leave: new RtpRecorder({ port: 0 }) };
  const dir = tempDir('gw-spine-');
  let stay = '';
  let leave = '';

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url);
    const out = join(ROOT, 'data', 'scenarios');
    [stay, leave] = await Promise.all([ensureScenario('spine-stay', { out }), ensureScenario('spine-leave', { out })]);
    await rec.stay.start();
    await rec.leave.start();
    officers = new OfficerSim({
      broker: broker.url,
      prefix: 't',
      walk: false,
      officers: [
        { id: 'off-near', lat: CAM.lat + 0.001, lon: CAM.lon },
        { id: 'off-far', lat: CAM.lat + 0.05, lon: CAM.lon },
      ],
    });
    await officers.start();
    const config = settingsAt(
      dir,
      settings({ dir, broker: broker.url, stay, leave, portStay: rec.stay.port, portLeave: rec.leave.port, grace: 10 }),
    );
    gw = await startGateway(config);
    // The officers' phones report every 20 s: one report now, so the first escalation finds them.
    await officers.report();
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await officers?.stop();
    rec.stay.stop();
    rec.leave.stop();
    await heard?.close();
    await broker?.stop();
  });

  const stateOf = (cam: string) => (m: Heard) => /\/events\/[^/]+\/state$/.test(m.topic) && m.json?.camera === cam;

  it('publishes a retained online status', async () => {
    const s = await heard.waitFor((m) => m.topic === 't/v1/gateways/gw-spine/status', 10_000, 'status');
    expect(s.json).toMatchObject({ state: 'online' });
  });

  it('confirms a parked taxi as an illegal_parking event with evidence', async () => {
    const ev = await heard.waitFor(
      (m) => m.topic === 't/v1/gateways/gw-spine/events' && m.json?.camera?.id === 'stay',
      40_000,
      'stay event',
    );
    expect(ev.json).toMatchObject({ type: 'illegal_parking', state: 'confirmed', zone: { id: 'plaza' } });
    expect(ev.json!.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(ev.json!.classes.some((c: string) => ['car', 'truck', 'bus'].includes(c))).toBe(true);
    expect(ev.json!.dwell_s).toBeGreaterThanOrEqual(3);
    // The bottom-centre of the taxi is in the plaza zone.
    const [x1, , x2, y2] = ev.json!.box;
    expect((x1 + x2) / 2).toBeGreaterThan(0.45);
    expect(y2).toBeGreaterThan(0.78);
    const stored = gw!.ctx.db.prepare('SELECT evidence_path AS p, evidence_sha256 AS s FROM events WHERE id = ?').get(ev.json!.id) as {
      p: string;
      s: string;
    };
    expect(existsSync(stored.p)).toBe(true);
    expect(createHash('sha256').update(readFileSync(stored.p)).digest('hex')).toBe(ev.json!.evidence.sha256);
  });

  it('plays a non-silent warning of the right length on the camera speaker', async () => {
    const spurt = await rec.stay.next(40_000);
    const w = await heard.waitFor(
      (m) => m.topic === 't/v1/gateways/gw-spine/warnings' && m.json?.speaker === 'spk-stay',
      20_000,
      'warning outcome',
    );
    expect(w.json).toMatchObject({ outcome: 'played', text: '请驶离' });
    expect(spurt.codec).toBe('pcma');
    expect(spurt.dbfs).toBeGreaterThan(-40);
    expect(spurt.lost).toBe(0);
    // The audio that arrived is the message, whole: as long as the gateway says it played.
    expect(Math.abs(spurt.durationMs / 1000 - w.json!.duration_s)).toBeLessThan(0.1);
    expect(spurt.durationMs).toBeGreaterThan(500);
    // Real-time pacing: it took about as long to arrive as it lasts.
    expect(spurt.wallMs).toBeGreaterThan(spurt.durationMs * 0.8);
  });

  it('escalates the taxi that stays and dispatches the nearest officer', async () => {
    const d = await heard.waitFor((m) => m.topic === 't/v1/officers/off-near/dispatch', 60_000, 'dispatch');
    expect(d.json).toMatchObject({ officer_id: 'off-near', type: 'illegal_parking' });
    expect(d.json!.distance_m).toBeGreaterThan(50);
    expect(d.json!.distance_m).toBeLessThan(200);
    expect(heard.find((m) => m.topic === 't/v1/officers/off-far/dispatch')).toHaveLength(0);
    const path = heard.find(stateOf('stay')).map((m) => m.json!.to);
    expect(path).toEqual(['confirmed', 'warned', 'rechecked', 'escalated', 'dispatched']);
  });

  it('resolves the taxi that leaves after the warning', async () => {
    await heard.waitFor((m) => stateOf('leave')(m) && m.json!.to === 'resolved_by_warning', 60_000, 'resolved');
    const path = heard.find(stateOf('leave')).map((m) => m.json!.to);
    expect(path).toEqual(['confirmed', 'warned', 'rechecked', 'resolved_by_warning']);
    expect(heard.find((m) => m.topic.endsWith('/dispatch') && m.json?.camera === 'leave')).toHaveLength(0);
  });

  it('gives each event one confirmation, with a unique id and a growing sequence', () => {
    const events = heard.find((m) => m.topic === 't/v1/gateways/gw-spine/events');
    expect(events.map((m) => m.json!.camera.id).sort()).toEqual(['leave', 'stay']);
    expect(new Set(events.map((m) => m.json!.id)).size).toBe(2);
    expect(events.map((m) => m.json!.seq).sort()).toEqual([1, 2]);
  });

  it('publishes only messages that match the contract (docs/asyncapi.yaml)', async () => {
    const contract = await loadContract('t');
    // The platform's copy of the dispatch leaves right after the officer's.
    await heard.waitFor((m) => m.topic === 't/v1/gateways/gw-spine/dispatches', 5000, 'dispatch for the platform');
    const published = heard.messages
      .map((m) => [m, contract.check(m.topic, m.json ?? m.text)] as const)
      .filter(([, r]) => r !== 'incoming');
    expect(published.flatMap(([, r]) => r)).toEqual([]);
    const kinds = new Set(published.map(([m]) => m.topic.split('/')[4]));
    for (const k of ['status', 'events', 'warnings', 'cameras', 'dispatches', 'dispatch']) expect(kinds).toContain(k);
  });

  it('resumes an event in the middle of its lifecycle after a restart', async () => {
    await gw!.stop();
    gw = null;
    heard.messages.length = 0;
    const dir2 = tempDir('gw-spine-restart-');
    const cfg = () =>
      settingsAt(
        dir2,
        settings({
          dir: dir2,
          broker: broker.url,
          stay,
          leave,
          portStay: rec.stay.port,
          portLeave: rec.leave.port,
          grace: 15,
          only: 'stay',
        }),
      );
    gw = await startGateway(cfg());
    const warned = await heard.waitFor((m) => stateOf('stay')(m) && m.json!.to === 'warned', 60_000, 'warned');
    const id = warned.json!.event_id;
    await gw.stop();
    gw = await startGateway(cfg());
    const done = await heard.waitFor((m) => m.json?.event_id === id && m.json!.to === 'dispatched', 60_000, 'dispatched after restart');
    expect(done.json!.officer_id).toBe('off-near');
    const path = heard.find((m) => m.json?.event_id === id && /\/state$/.test(m.topic)).map((m) => m.json!.to);
    expect(path).toEqual(['confirmed', 'warned', 'rechecked', 'escalated', 'dispatched']);
    // The taxi that was still there is the same matter: no second event for it.
    expect(heard.find((m) => m.topic === 't/v1/gateways/gw-spine/events')).toHaveLength(1);
  });
});
