/**
 * Garbage, material stacking and floating debris without any model trained for them: the
 * static-change detector finds what was left in a zone, dates it from when it appeared, and
 * the rules fire the catalogue's dwell later, through the real pipeline (ffmpeg, the model
 * for people and cars, static change, tracker, rules, events on mosquitto).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { compareTimeline, runScenarios, type ScenarioResult } from '../../scripts/scenario-run.ts';
import type { ExpectedEvent } from '../../scripts/scenario.ts';

const ok = havePeers('ffmpeg', 'mosquitto');
const NAMES = ['static-street', 'static-river'];

describe.runIf(ok)('static-change types on scenario videos through the real pipeline', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let results: Map<string, ScenarioResult>;

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url, 't/v1/gateways/+/events');
    results = await runScenarios(NAMES, { mqttUrl: broker.url });
    await heard.waitFor(() => heard.messages.length >= 3, 10_000, 'events');
  }, 240_000);

  afterAll(async () => {
    await heard?.close();
    await broker?.stop();
  });

  it.each(NAMES)('%s: the events match the expected timeline', (name) => {
    const r = results.get(name)!;
    expect(compareTimeline((r.scenario.expect ?? []) as ExpectedEvent[], r.events)).toEqual([]);
  });

  it('the dwell counts from when the thing appeared, not from when the detector was sure of it', () => {
    const street = results.get('static-street')!;
    const garbage = street.events.find((e) => e.type === 'garbage_exposure')!;
    // The heap was put down at 30 s; static change reported it only after persist_s.
    const firstReport = street.frames.find((f) => f.detections.some((d) => d.label === 'static_change' && d.box[0] > 0.5))!.t;
    expect(firstReport).toBeGreaterThanOrEqual(50);
    expect(garbage.firstSeenS).toBeLessThan(firstReport - 15);
    expect(garbage.confirmedS - garbage.firstSeenS).toBe(600);
  });

  it('people walking in front of the heap and the panels neither hide them for good nor add events', () => {
    const street = results.get('static-street')!;
    expect(street.events).toHaveLength(2);
    const during = street.frames.filter((f) => f.t >= 250 && f.t <= 500);
    expect(during.some((f) => f.detections.some((d) => d.label === 'person' && d.box[3] > 0.74 && d.box[0] > 0.3))).toBe(true);
    expect(heard.messages.filter((m) => m.json?.camera?.id === 'static-street')).toHaveLength(2);
  });
});
