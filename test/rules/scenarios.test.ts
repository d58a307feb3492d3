/**
 * Every violation type COCO can see, proven on a scenario video through the real
 * pipeline: ffmpeg decodes the key frames, YOLOX-Nano detects, the tracker and the rules
 * of the scenario's zones decide, the event service records and publishes on mosquitto.
 * The videos are analysed with `clock: media` (each frame stamped with its time in the
 * video), so the catalogue's real dwell times (120-300 s) hold and the whole file takes
 * well under a minute. Each scenario's expected timeline is in its JSON file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { loadContract } from '../helpers/contract.ts';
import { compareTimeline, runScenarios, type ScenarioResult } from '../../scripts/scenario-run.ts';
import type { ExpectedEvent } from '../../scripts/scenario.ts';
import { CATALOGUE } from '../../gateway/rules/catalogue.ts';

const ok = havePeers('ffmpeg', 'mosquitto');
const NAMES = ['street-vending', 'mobile-vendor', 'non-motor-parking', 'out-of-store', 'river-intrusion'];

describe.runIf(ok)('COCO-visible types on scenario videos through the real pipeline', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let results: Map<string, ScenarioResult>;

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url, 't/v1/gateways/#');
    results = await runScenarios(NAMES, { mqttUrl: broker.url });
    // Every event has reached the broker before the gateway stopped (outbox, QoS 1).
    await heard.waitFor(() => heard.find((m) => m.topic.endsWith('/events')).length >= NAMES.length, 10_000, 'events');
  }, 240_000);

  afterAll(async () => {
    await heard?.close();
    await broker?.stop();
  });

  const expected = (name: string) => (results.get(name)!.scenario.expect ?? []) as ExpectedEvent[];

  it.each(NAMES)('%s: the events match the expected timeline', (name) => {
    const r = results.get(name)!;
    // The whole video was analysed, one frame per second of it: inferred, or looked at by
    // the still gate and skipped (a still picture with nothing on its way to a verdict).
    expect(r.frames.length + r.stillSkipped).toBeGreaterThanOrEqual(r.scenario.duration_s - 1);
    expect(compareTimeline(expected(name), r.events)).toEqual([]);
    for (const x of expected(name).filter((e) => e.count > 0)) {
      const e = r.events.find((v) => v.type === x.type)!;
      // Confirmed a dwell after the condition started holding, as filmed.
      const d = CATALOGUE[x.type as keyof typeof CATALOGUE];
      expect(e.confirmedS - e.firstSeenS).toBeGreaterThanOrEqual(d.dwellS - 1);
      // One thing: confirmed right when its dwell ends (a group: first seen is its first member).
      if (d.minCount === 1) expect(e.confirmedS - e.firstSeenS).toBeLessThanOrEqual(d.dwellS + 2);
    }
  });

  it('street vending: the umbrellas and the people at them are the evidence', () => {
    const e = results.get('street-vending')!.events[0];
    expect(e.classes).toEqual(expect.arrayContaining(['umbrella', 'person']));
    expect(e.trackIds.length).toBeGreaterThanOrEqual(3);
  });

  it('mobile vendor: the bicycle left alone, with nobody at it, is no vendor', () => {
    const r = results.get('mobile-vendor')!;
    expect(r.events).toHaveLength(1);
    // The event is the vendor's bicycle (right), not the parked one (left).
    expect(r.events[0].box[0]).toBeGreaterThan(0.4);
    // The lone bicycle was seen all along, so its absence from the events is the rule's doing.
    const lone = r.frames.filter((f) => f.detections.some((d) => d.label === 'bicycle' && d.box[2] < 0.3 && d.box[3] > 0.9));
    expect(lone.length).toBeGreaterThan(r.frames.length * 0.8);
  });

  it('non-motor parking: the bicycle in the masked bay does not count towards the three', () => {
    const r = results.get('non-motor-parking')!;
    const e = r.events[0];
    expect(e.trackIds).toHaveLength(3);
    // All three stand right of the bay (mask x < 0.3): the bay's bicycle (x from 0.04) is
    // not in the event's box. It was seen all along.
    expect(e.box[0]).toBeGreaterThan(0.2);
    const inBay = r.frames.filter((f) =>
      f.detections.some((d) => d.label === 'bicycle' && (d.box[0] + d.box[2]) / 2 < 0.3 && d.box[3] > 0.9),
    );
    expect(inBay.length).toBeGreaterThan(r.frames.length * 0.9);
    // With the bay's bicycle there were three in the zone from 40 s: without the mask the
    // event would have come at 340 s.
    expect(e.confirmedS).toBeGreaterThan(380);
  });

  it('river intrusion: a person crossing the danger zone quickly is not an event', () => {
    const r = results.get('river-intrusion')!;
    expect(r.events).toHaveLength(1);
    expect(r.events[0].confirmedS).toBeLessThan(60);
    const crossing = r.frames.filter(
      (f) => f.t >= 72 && f.t <= 80 && f.detections.some((d) => d.label === 'person' && (d.box[0] + d.box[2]) / 2 < 0.25),
    );
    expect(crossing.length).toBeGreaterThanOrEqual(2);
  });

  it('publishes each event on MQTT with type, camera, zone, tracks, classes, times and evidence, per the contract', async () => {
    const contract = await loadContract('t');
    const events = heard.find((m) => m.topic === 't/v1/gateways/gw-scenarios/events');
    expect(events).toHaveLength(NAMES.length);
    for (const m of events) {
      expect(contract.check(m.topic, m.json)).toEqual([]);
      const r = results.get(m.json!.camera.id)!;
      const seen = r.events.find((e) => e.id === m.json!.id)!;
      expect(m.json).toMatchObject({
        type: seen.type,
        zone: { id: seen.zone },
        track_ids: seen.trackIds,
        classes: seen.classes,
        state: 'confirmed',
      });
      expect(Date.parse(m.json!.confirmed_at)).toBe(Math.round(r.base + seen.confirmedS * 1000));
      expect(Date.parse(m.json!.first_seen_at)).toBe(Math.round(r.base + seen.firstSeenS * 1000));
      expect(m.json!.evidence.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});
