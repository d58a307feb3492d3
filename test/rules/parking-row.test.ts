/**
 * One event per vehicle, through the real pipeline in real time: three taxis park side by
 * side in one no-parking zone, two together and one 8 s later
 * (scripts/scenarios/parking-row.json); the middle one drives off after its warning. Each car is its own event with its own box,
 * track and evidence; the one that left is resolved by the warning while the other two are
 * escalated and each dispatched to its own officer. (A field test once gave one event for
 * five cars, with the union of their boxes.)
 *
 * The zone's rate limit is opened up here so every car's own warning plays whatever the
 * warning policy does with several cars confirmed together (that is its own matter).
 * The grace before the recheck is 20 s: the middle car has then been gone for about 14 s
 * (longer than a track coasts, even stretched on a loaded box) and the 45 s scene does not
 * bring it back before a recheck that has to wait for fresh frames.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector, type Heard } from '../helpers/collector.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { ensureScenario } from '../../scripts/scenario.ts';
import { RtpRecorder } from '../../scripts/sim/rtp-speaker.ts';
import { OfficerSim } from '../../scripts/sim/officers.ts';
import type { Gateway } from '../../gateway/controller.ts';
import { ROOT } from '../../gateway/paths.ts';

const ok = havePeers('ffmpeg', 'espeak-ng', 'mosquitto');
const CAM = { lat: 28.7712, lon: 118.5553 };

describe.runIf(ok)('several cars parked side by side in one zone: one event per car', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let gw: Gateway | null = null;
  let officers: OfficerSim;
  const speaker = new RtpRecorder({ port: 0 });
  const dir = tempDir('gw-row-');

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url);
    const video = await ensureScenario('parking-row', { out: join(ROOT, 'data', 'scenarios') });
    await speaker.start();
    officers = new OfficerSim({
      broker: broker.url,
      prefix: 't',
      walk: false,
      officers: [
        { id: 'off-a', lat: CAM.lat + 0.001, lon: CAM.lon },
        { id: 'off-b', lat: CAM.lat + 0.002, lon: CAM.lon },
      ],
    });
    await officers.start();
    gw = await startGateway(
      settingsAt(
        dir,
        `
gateway: { id: gw-row, data_dir: ${dir}/data }
mqtt: { url: '${broker.url}', prefix: t }
http: { enabled: false }
tracking: { max_missed_s: 3 }
warnings: { rate_limit: { max: 10 }, repeat: { count: 0 } }
cameras:
  - id: row
    url: ${video}
    location: { lat: ${CAM.lat}, lon: ${CAM.lon} }
    interval_s: 1
    speakers: [spk-row]
    zones:
      - id: plaza
        name: 广场东侧
        polygon: [[0.45, 0.78], [0.98, 0.78], [0.98, 0.999], [0.45, 0.999]]
        rules:
          - { type: illegal_parking, dwell_s: 4, grace_s: 20, message: 请驶离 }
speakers:
  - { id: spk-row, url: 'rtp://127.0.0.1:${speaker.port}' }
officers:
  - { id: off-a, name: 甲 }
  - { id: off-b, name: 乙 }
`,
      ),
    );
    // The officers' phones report every 20 s: one report now, so the first escalation finds them.
    await officers.report();
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await officers?.stop();
    speaker.stop();
    await heard?.close();
    await broker?.stop();
  });

  const events = () => heard.find((m) => m.topic === 't/v1/gateways/gw-row/events');
  const states = (id: string) => heard.find((m) => m.topic === `t/v1/gateways/gw-row/events/${id}/state`).map((m) => m.json!.to);
  /** The events left to right by their box. */
  const byPlace = () => [...events()].sort((a, b) => a.json!.box[0] - b.json!.box[0]);

  it('confirms three events, one per car: the two that came together as two, the later one on its own', async () => {
    await heard.waitFor(() => events().length >= 3, 60_000, 'three events');
    const all = events();
    expect(all).toHaveLength(3);
    const [left, middle, right] = byPlace();
    // Left and middle arrived together at 3 s, right at 11 s.
    expect(all[2].json!.id).toBe(right.json!.id);
    expect(left.json!.confirmed_at).toBe(middle.json!.confirmed_at);
    expect(Date.parse(right.json!.confirmed_at) - Date.parse(left.json!.confirmed_at)).toBeGreaterThan(5000);
  });

  it('gives each event its own box (one car wide, no union), its own track and its own evidence', async () => {
    const evs = byPlace().map((m) => m.json!);
    for (const e of evs) {
      expect(e.type).toBe('illegal_parking');
      expect(e.zone).toMatchObject({ id: 'plaza', name: '广场东侧' });
      expect(e.track_ids).toHaveLength(1);
      // One taxi is about 0.16 of the picture wide; the three together would be 0.5.
      expect(e.box[2] - e.box[0]).toBeLessThan(0.2);
      expect(e.box[2] - e.box[0]).toBeGreaterThan(0.1);
    }
    expect(new Set(evs.map((e) => e.track_ids[0])).size).toBe(3);
    // Side by side, not overlapping.
    expect(evs[0].box[2]).toBeLessThanOrEqual(evs[1].box[0] + 0.02);
    expect(evs[1].box[2]).toBeLessThanOrEqual(evs[2].box[0] + 0.02);
    expect(new Set(evs.map((e) => e.evidence.sha256)).size).toBe(3);
    const paths = evs.map((e) => (gw!.ctx.db.prepare('SELECT evidence_path AS p FROM events WHERE id = ?').get(e.id) as { p: string }).p);
    for (const p of paths) expect(existsSync(p)).toBe(true);
  });

  it('resolves the car that left after its warning, and escalates and dispatches the two that stayed, each to its own officer', async () => {
    const [left, middle, right] = byPlace().map((m) => m.json!.id as string);
    const isState = (id: string, to: string) => (m: Heard) => m.topic === `t/v1/gateways/gw-row/events/${id}/state` && m.json?.to === to;
    // On a timeout, say where each car's event got to.
    const path = () => `left ${states(left).join('>')}; middle ${states(middle).join('>')}; right ${states(right).join('>')}`;
    await heard.waitFor(isState(middle, 'resolved_by_warning'), 60_000, 'middle car resolved').catch((e: Error) => {
      throw new Error(`${e.message}; ${path()}`);
    });
    await heard.waitFor(isState(left, 'dispatched'), 60_000, 'left car dispatched');
    await heard.waitFor(isState(right, 'dispatched'), 60_000, 'right car dispatched');
    expect(states(middle)).toEqual(['confirmed', 'warned', 'rechecked', 'resolved_by_warning']);
    for (const id of [left, right]) expect(states(id)).toEqual(['confirmed', 'warned', 'rechecked', 'escalated', 'dispatched']);
    const isOffer = (m: Heard) => /^t\/v1\/officers\/[^/]+\/dispatch$/.test(m.topic);
    // The offer to the phone leaves right after the state change.
    await heard.waitFor(() => heard.find(isOffer).length >= 2, 10_000, 'two offers');
    const offers = heard.find(isOffer);
    expect(offers.map((m) => m.json!.event_id).sort()).toEqual([left, right].sort());
    expect(new Set(offers.map((m) => m.json!.officer_id)).size).toBe(2);
    // Every car's own warning was played and recorded against its event.
    const played = heard.find((m) => m.topic === 't/v1/gateways/gw-row/warnings' && m.json?.outcome === 'played');
    expect(new Set(played.map((m) => m.json!.event_id))).toEqual(new Set([left, middle, right]));
  }, 150_000);
});
