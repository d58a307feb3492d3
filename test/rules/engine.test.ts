/**
 * Tracker + rule engine on synthetic detections with timestamps: verdicts come from
 * wall-clock dwell, stillness, the foot point in the zone, counts and the suppressor.
 */
import { describe, expect, it, vi } from 'vitest';
import { Tracker } from '../../gateway/track/tracker.ts';
import { RETRY_MS, RuleEngine, union, type Suppressor, type Verdict } from '../../gateway/rules/engine.ts';
import { resolveZoneRules, type ZoneRule } from '../../gateway/rules/zone-rules.ts';
import { CATALOGUE, type ViolationType } from '../../gateway/rules/catalogue.ts';
import type { CameraSettings, ZoneRuleSettings } from '../../gateway/settings/schema.ts';
import type { Detection } from '../../gateway/detect/types.ts';
import type { Box, Pt } from '../../gateway/zones/geometry.ts';

/** The lower half of the picture, with a margin. */
const ZONE: Pt[] = [
  [0.2, 0.5],
  [0.8, 0.5],
  [0.8, 0.98],
  [0.2, 0.98],
];
const CAR: Box = [0.4, 0.6, 0.55, 0.8];
const T0 = 1_750_000_000_000;
const MAX_MISSED_S = 8;

function rules(type: ViolationType, r: Partial<ZoneRuleSettings> = {}, polygon: Pt[] = ZONE): ZoneRule[] {
  const cam = { id: 'cam-1', zones: [{ id: 'z1', name: '东口', polygon, rules: [{ type, ...r }] }] } as unknown as CameraSettings;
  return resolveZoneRules(cam);
}

const det = (box: Box, label = 'car'): Detection => ({ label, score: 0.8, box });
const shift = (b: Box, dx: number, dy = 0): Box => [b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy];

/** A deterministic PRNG so irregular timings are repeatable. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

interface Frame {
  ts: number;
  dets: Detection[];
}

class Harness {
  readonly tracker = new Tracker({ maxMissedS: MAX_MISSED_S, stationaryRatio: 0.15 });
  readonly engine: RuleEngine;
  readonly verdicts: Verdict[] = [];
  frames = 0;
  constructor(zr: ZoneRule[], suppress: Suppressor = () => false) {
    this.engine = new RuleEngine(zr, suppress, MAX_MISSED_S);
  }
  feed(frames: Iterable<Frame>): Verdict[] {
    const out: Verdict[] = [];
    for (const f of frames) {
      this.frames++;
      out.push(...this.engine.evaluate(this.tracker.update(f.dets, f.ts), f.ts));
    }
    this.verdicts.push(...out);
    return out;
  }
}

/** Frames from `from` to `to` ms at irregular intervals in [minMs, maxMs]. */
function* frames(
  from: number,
  to: number,
  dets: (ts: number, i: number) => Detection[],
  minMs = 1000,
  maxMs = 1000,
  seed = 1,
): Generator<Frame> {
  const r = rng(seed);
  let i = 0;
  for (let ts = from; ts <= to; ts += minMs + Math.round(r() * (maxMs - minMs)), i++) yield { ts, dets: dets(ts, i) };
}

describe('illegal_parking: dwell in wall-clock time', () => {
  it('a parked car fires exactly one verdict once dwell_s has passed, whatever the frame intervals', () => {
    const dwell = rules('illegal_parking')[0].dwellS;
    expect(dwell).toBe(180);
    const runs = [
      { min: 1000, max: 1000, seed: 1 },
      { min: 2000, max: 2000, seed: 1 },
      { min: 300, max: 3500, seed: 7 },
      { min: 200, max: 6000, seed: 42 },
    ].map(({ min, max, seed }) => {
      const h = new Harness(rules('illegal_parking'));
      const all = [...frames(T0, T0 + 400_000, () => [det(CAR)], min, max, seed)];
      const v = h.feed(all);
      const firstDue = all.find((f) => f.ts - T0 >= dwell * 1000)!;
      expect(v, `intervals ${min}..${max}`).toHaveLength(1);
      expect(v[0].at).toBe(firstDue.ts);
      expect(v[0].since).toBe(T0);
      expect(v[0].rule.type).toBe('illegal_parking');
      expect(v[0].classes).toEqual(['car']);
      expect(v[0].tracks.map((t) => t.id)).toEqual([1]);
      expect(v[0].box).toEqual(CAR);
      return { framesBefore: all.indexOf(firstDue), at: v[0].at };
    });
    // Frame counts up to the verdict differ wildly (180 vs 90 vs ...) but the time does not.
    expect(new Set(runs.map((r) => r.framesBefore)).size).toBeGreaterThan(2);
    for (const r of runs) {
      expect(r.at - T0).toBeGreaterThanOrEqual(180_000);
      expect(r.at - T0).toBeLessThan(186_000);
    }
  });

  it('dwell_s from the zone overrides the catalogue', () => {
    const h = new Harness(rules('illegal_parking', { dwell_s: 30 }));
    const v = h.feed(frames(T0, T0 + 60_000, () => [det(CAR)], 1500, 1500));
    expect(v).toHaveLength(1);
    expect(v[0].at - T0).toBe(30_000);
  });

  it('no verdict before the dwell time even with many frames', () => {
    const h = new Harness(rules('illegal_parking'));
    // 10 frames a second for 170 s: 1,700 frames, still too early.
    expect(h.feed(frames(T0, T0 + 170_000, () => [det(CAR)], 100, 100))).toHaveLength(0);
    expect(h.frames).toBe(1701);
  });

  it('a car driving through the zone (moving every frame) never fires', () => {
    const h = new Harness(rules('illegal_parking', { dwell_s: 10 }));
    // 0.04 of the picture per second, 0.2 of its own size: ~15 s inside the zone, never still.
    const v = h.feed(frames(T0, T0 + 25_000, (ts) => [det(shift([0, 0.6, 0.15, 0.8], ((ts - T0) / 1000) * 0.04))]));
    expect(v).toHaveLength(0);
    // It was in the zone for longer than the dwell, and it was one track throughout.
    expect(h.tracker.all().map((t) => t.id)).toEqual([1]);
  });

  it('a car that drives in, then parks, fires dwell_s after it stopped', () => {
    const h = new Harness(rules('illegal_parking', { dwell_s: 20 }));
    const parkedAt = T0 + 10_000;
    const where = (ts: number): Box => shift([0.1, 0.6, 0.25, 0.8], ((Math.min(ts, parkedAt) - T0) / 1000) * 0.03);
    const v = h.feed(frames(T0, T0 + 60_000, (ts) => [det(where(ts))]));
    expect(v).toHaveLength(1);
    expect(v[0].since).toBe(parkedAt);
    expect(v[0].at).toBe(parkedAt + 20_000);
  });

  it('box jitter within stationary_ratio still fires', () => {
    const r = rng(3);
    const h = new Harness(rules('illegal_parking', { dwell_s: 60 }));
    const jitter = (): Box => CAR.map((c) => c + (r() - 0.5) * 0.02) as unknown as Box; // ±0.01 per edge
    const v = h.feed(frames(T0, T0 + 90_000, () => [det(jitter())], 800, 1600, 5));
    expect(v).toHaveLength(1);
    expect(v[0].since).toBe(T0);
    expect(v[0].at - T0).toBeGreaterThanOrEqual(60_000);
    expect(v[0].at - T0).toBeLessThan(61_600);
  });

  it('missed detections shorter than max_missed_s keep the track: one verdict, on time', () => {
    const h = new Harness(rules('illegal_parking', { dwell_s: 60 }));
    // Missing from 20 s to 27 s (7 s < 8 s), frames keep coming.
    const v = h.feed(frames(T0, T0 + 120_000, (ts) => (ts - T0 > 20_000 && ts - T0 < 27_000 ? [] : [det(CAR)])));
    expect(v).toHaveLength(1);
    expect(v[0].tracks[0].id).toBe(1);
    expect(v[0].at - T0).toBe(60_000);
  });

  it('missed detections longer than max_missed_s start a new track: dwell counts again', () => {
    const h = new Harness(rules('illegal_parking', { dwell_s: 60 }));
    // Missing from 20 s to 32 s (11 s > 8 s).
    const v = h.feed(frames(T0, T0 + 120_000, (ts) => (ts - T0 > 20_000 && ts - T0 < 32_000 ? [] : [det(CAR)])));
    expect(v).toHaveLength(1);
    expect(v[0].tracks[0].id).toBe(2);
    expect(v[0].since).toBe(T0 + 32_000);
    expect(v[0].at).toBe(T0 + 92_000);
  });

  it('a detector flipping car/truck keeps identity and fires once', () => {
    const r = rng(9);
    const h = new Harness(rules('illegal_parking', { dwell_s: 30 }));
    const v = h.feed(frames(T0, T0 + 100_000, () => [det(CAR, r() < 0.5 ? 'car' : 'truck')]));
    expect(v).toHaveLength(1);
    expect(v[0].tracks.map((t) => t.id)).toEqual([1]);
    expect(['car', 'truck']).toContain(v[0].classes[0]);
    expect(h.tracker.all()).toHaveLength(1);
  });

  it('the bottom-centre decides: top in the zone but bottom out does not count', () => {
    const upper: Pt[] = [
      [0.1, 0.1],
      [0.9, 0.1],
      [0.9, 0.5],
      [0.1, 0.5],
    ];
    const topIn: Box = [0.4, 0.3, 0.55, 0.7]; // most of the box in the zone, the foot (y 0.7) out
    const footIn: Box = [0.4, 0.02, 0.55, 0.45]; // the top is above the zone, the foot in it
    const a = new Harness(rules('illegal_parking', { dwell_s: 10 }, upper));
    expect(a.feed(frames(T0, T0 + 30_000, () => [det(topIn)]))).toHaveLength(0);
    const b = new Harness(rules('illegal_parking', { dwell_s: 10 }, upper));
    expect(b.feed(frames(T0, T0 + 30_000, () => [det(footIn)]))).toHaveLength(1);
  });

  it('classes outside the rule and boxes smaller than min_area do not count', () => {
    const h = new Harness(rules('illegal_parking', { dwell_s: 10 }));
    expect(h.feed(frames(T0, T0 + 30_000, () => [det(CAR, 'person')]))).toHaveLength(0);
    const tiny: Box = [0.5, 0.7, 0.52, 0.72]; // 0.0004 < 0.002
    const h2 = new Harness(rules('illegal_parking', { dwell_s: 10 }));
    expect(h2.feed(frames(T0, T0 + 30_000, () => [det(tiny)]))).toHaveLength(0);
    const h3 = new Harness(rules('illegal_parking', { dwell_s: 10, min_area: 0.0001 }));
    expect(h3.feed(frames(T0, T0 + 30_000, () => [det(tiny)]))).toHaveLength(1);
  });

  it('someone who walks out of the zone and back in starts over', () => {
    const h = new Harness(rules('river_intrusion'));
    // Foot at y 0.75; walks up 0.06/s from 10 s to 16 s (out of the zone from 15 s), stays
    // there, and comes back down from 20 s (in again at 22 s, foot y 0.51).
    const y = (t: number) => (t <= 10 ? 0 : t <= 16 ? -(t - 10) * 0.06 : t <= 20 ? -0.36 : Math.min(0, -0.36 + (t - 20) * 0.06));
    const v = h.feed(frames(T0, T0 + 60_000, (ts) => [det(shift([0.4, 0.6, 0.45, 0.75], 0, y((ts - T0) / 1000)), 'person')]));
    expect(h.tracker.all().map((t) => t.id)).toEqual([1]);
    expect(v).toHaveLength(1);
    expect(v[0].since).toBe(T0 + 22_000);
    expect(v[0].at).toBe(T0 + 42_000);
  });
});

describe('min_count and non-stationary types', () => {
  const bikes: Box[] = [
    [0.3, 0.7, 0.36, 0.8],
    [0.45, 0.7, 0.51, 0.8],
    [0.6, 0.7, 0.66, 0.8],
  ];

  it('non_motor_parking needs 3 bicycles (default min_count) for the dwell', () => {
    const zr = rules('non_motor_parking');
    expect(zr[0].minCount).toBe(3);
    expect(zr[0].dwellS).toBe(300);
    const two = new Harness(zr);
    expect(two.feed(frames(T0, T0 + 600_000, () => bikes.slice(0, 2).map((b) => det(b, 'bicycle')), 2000, 2000))).toHaveLength(0);
    // The third one arrives 100 s later: the verdict comes 300 s after that, with all three.
    const three = new Harness(rules('non_motor_parking'));
    const v = three.feed(
      frames(T0, T0 + 600_000, (ts) => (ts - T0 < 100_000 ? bikes.slice(0, 2) : bikes).map((b) => det(b, 'bicycle')), 2000, 2000),
    );
    expect(v).toHaveLength(1);
    expect(v[0].at).toBe(T0 + 400_000);
    expect(v[0].since).toBe(T0);
    expect(v[0].tracks).toHaveLength(3);
    expect(v[0].box).toEqual(union(bikes));
    expect(v[0].box).toEqual([0.3, 0.7, 0.66, 0.8]);
  });

  it('min_count from the zone overrides the default', () => {
    const h = new Harness(rules('non_motor_parking', { min_count: 2, dwell_s: 20 }));
    const v = h.feed(frames(T0, T0 + 40_000, () => bikes.slice(0, 2).map((b) => det(b, 'motorcycle'))));
    expect(v).toHaveLength(1);
    expect(v[0].classes).toEqual(['motorcycle']);
  });

  it('river_intrusion is about presence, not stillness: a person walking about fires', () => {
    expect(CATALOGUE.river_intrusion.stationary).toBe(false);
    const h = new Harness(rules('river_intrusion'));
    const walk = (ts: number): Box => shift([0.3, 0.6, 0.35, 0.75], ((ts - T0) / 1000) * 0.01);
    const v = h.feed(frames(T0, T0 + 30_000, (ts) => [det(walk(ts), 'person')]));
    expect(v).toHaveLength(1);
    expect(v[0].at - T0).toBe(20_000);
  });
});

describe('suppressor', () => {
  it('a held-back spot gives no verdict; it is asked again every RETRY_MS, and fires once let through', () => {
    const calls: { type: string; box: Box; ts: number }[] = [];
    let held = true;
    const h = new Harness(rules('illegal_parking', { dwell_s: 30 }), (r, box, ts) => (calls.push({ type: r.type, box, ts }), held));
    expect(h.feed(frames(T0, T0 + 120_000, () => [det(CAR)]))).toHaveLength(0);
    expect(calls[0]).toEqual({ type: 'illegal_parking', box: CAR, ts: T0 + 30_000 });
    // Not on every frame: every RETRY_MS while the thing stays.
    expect(calls.map((c) => c.ts - T0)).toEqual([30_000, 45_000, 60_000, 75_000, 90_000, 105_000, 120_000]);
    expect(RETRY_MS).toBe(15_000);
    // The spot's event closed and its cooldown ended: the car still there is a new event.
    held = false;
    const v = h.feed(frames(T0 + 121_000, T0 + 160_000, () => [det(CAR)]));
    expect(v).toHaveLength(1);
    expect(v[0].at).toBe(T0 + 135_000);
    expect(v[0].since).toBe(T0);
    // And then it stays quiet: one thing, one event.
    expect(h.feed(frames(T0 + 161_000, T0 + 400_000, () => [det(CAR)]))).toHaveLength(0);
    expect(calls).toHaveLength(8);
  });

  it('is asked only when a verdict is due, and a false answer lets it through', () => {
    const suppress = vi.fn<Suppressor>(() => false);
    const h = new Harness(rules('illegal_parking', { dwell_s: 30 }), suppress);
    expect(h.feed(frames(T0, T0 + 29_000, () => [det(CAR)]))).toHaveLength(0);
    expect(suppress).not.toHaveBeenCalled();
    expect(h.feed(frames(T0 + 30_000, T0 + 60_000, () => [det(CAR)]))).toHaveLength(1);
    expect(suppress).toHaveBeenCalledTimes(1);
  });
});

describe('presence()', () => {
  function parked(type: ViolationType = 'illegal_parking', r: Partial<ZoneRuleSettings> = { dwell_s: 10 }) {
    const h = new Harness(rules(type, r));
    const v = h.feed(frames(T0, T0 + 15_000, () => [det(CAR)]));
    expect(v).toHaveLength(1);
    return { h, v: v[0], last: T0 + 15_000 };
  }

  it('present while the car is there, by track id or by place', () => {
    const { h, v, last } = parked();
    expect(h.engine.presence('illegal_parking', 'z1', v.box, [v.tracks[0].id], last, 5000)).toBe('present');
    // Another id (the track was lost and found again) at the same spot.
    expect(h.engine.presence('illegal_parking', 'z1', v.box, [999], last + 1000, 5000)).toBe('present');
    // The right track id even if the box given is elsewhere.
    expect(h.engine.presence('illegal_parking', 'z1', [0, 0, 0.1, 0.1], [v.tracks[0].id], last, 5000)).toBe('present');
    // Something elsewhere with another id is not this matter.
    expect(h.engine.presence('illegal_parking', 'z1', [0.7, 0.85, 0.78, 0.95], [999], last, 5000)).toBe('absent');
  });

  it('absent once the car has gone (longer than max_missed_s)', () => {
    const { h, v, last } = parked();
    h.feed(frames(last + 1000, last + 5000, () => []));
    // Coasting through a short gap still counts as there.
    expect(h.engine.presence('illegal_parking', 'z1', v.box, [v.tracks[0].id], last + 5000, 5000)).toBe('present');
    h.feed(frames(last + 6000, last + 12_000, () => []));
    expect(h.engine.presence('illegal_parking', 'z1', v.box, [v.tracks[0].id], last + 12_000, 5000)).toBe('absent');
  });

  it('unknown without fresh frames', () => {
    const { h, v, last } = parked();
    expect(h.engine.presence('illegal_parking', 'z1', v.box, [v.tracks[0].id], last + 5001, 5000)).toBe('unknown');
    expect(h.engine.presence('illegal_parking', 'z1', v.box, [v.tracks[0].id], last + 5000, 5000)).toBe('present');
  });

  it('absent for a type or zone without a rule', () => {
    const { h, v, last } = parked();
    expect(h.engine.presence('street_vending', 'z1', v.box, [v.tracks[0].id], last, 5000)).toBe('absent');
    expect(h.engine.presence('illegal_parking', 'z9', v.box, [v.tracks[0].id], last, 5000)).toBe('absent');
  });

  it('with min_count, present only while enough of them are there', () => {
    const bikes: Box[] = [
      [0.3, 0.7, 0.36, 0.8],
      [0.45, 0.7, 0.51, 0.8],
      [0.6, 0.7, 0.66, 0.8],
    ];
    const h = new Harness(rules('non_motor_parking', { dwell_s: 10 }));
    const v = h.feed(frames(T0, T0 + 15_000, () => bikes.map((b) => det(b, 'bicycle'))));
    expect(v).toHaveLength(1);
    const ids = v[0].tracks.map((t) => t.id);
    expect(h.engine.presence('non_motor_parking', 'z1', v[0].box, ids, T0 + 15_000, 5000)).toBe('present');
    // One rides away; after max_missed_s only two are left.
    h.feed(frames(T0 + 16_000, T0 + 30_000, () => bikes.slice(0, 2).map((b) => det(b, 'bicycle'))));
    expect(h.engine.presence('non_motor_parking', 'z1', v[0].box, ids, T0 + 30_000, 5000)).toBe('absent');
  });
});

describe('candidates (what the still gate must keep inferring)', () => {
  const at = (s: number, dets: Detection[]): Frame => ({ ts: T0 + s * 1000, dets });

  it('a car in the zone is a candidate while its dwell runs, not once it fired, nor when held back by its spot', () => {
    const h = new Harness(rules('illegal_parking', { dwell_s: 10 }));
    h.feed([at(0, [det([0.4, 0.1, 0.55, 0.3])])]); // above the zone
    expect(h.engine.hasCandidates()).toBe(false);
    h.feed([at(1, [det(CAR)])]);
    expect(h.engine.hasCandidates()).toBe(true);
    h.feed(Array.from({ length: 10 }, (_, i) => at(2 + i, [det(CAR)])));
    expect(h.verdicts).toHaveLength(1);
    expect(h.engine.hasCandidates()).toBe(false);
    // The same spot already has its event: held back, waiting on the cooldown, not on frames.
    const held = new Harness(rules('illegal_parking', { dwell_s: 2 }), () => true);
    held.feed(Array.from({ length: 4 }, (_, i) => at(i, [det(CAR)])));
    expect(held.verdicts).toHaveLength(0);
    expect(held.engine.hasCandidates()).toBe(false);
  });

  it('says when the first dwell completes, and "now" for a candidate the detector just missed', () => {
    const h = new Harness(rules('illegal_parking', { dwell_s: 10 }));
    expect(h.engine.candidatesDueAt()).toBeNull();
    h.feed([at(1, [det(CAR)]), at(3, [det(CAR)])]);
    expect(h.engine.candidatesDueAt()).toBe(T0 + 11_000);
    // Missed in this frame: its track coasts, and the next frame must be inferred.
    h.feed([at(5, [])]);
    expect(h.engine.candidatesDueAt()).toBe(Number.NEGATIVE_INFINITY);
    h.feed([at(7, [det(CAR)])]);
    expect(h.engine.candidatesDueAt()).toBe(T0 + 11_000);
    h.feed([at(11, [det(CAR)])]);
    expect(h.verdicts).toHaveLength(1);
    expect(h.engine.candidatesDueAt()).toBeNull();
  });

  it('a bicycle in a mobile-vendor zone with nobody at it is no candidate; with its person it is', () => {
    const bike: Box = [0.45, 0.7, 0.55, 0.9];
    const h = new Harness(rules('mobile_vendor', { dwell_s: 30 }));
    h.feed([at(0, [det(bike, 'bicycle')])]);
    expect(h.engine.hasCandidates()).toBe(false);
    h.feed([at(1, [det(bike, 'bicycle'), det([0.56, 0.6, 0.62, 0.9], 'person')])]);
    expect(h.engine.hasCandidates()).toBe(true);
  });
});
