/**
 * The rule engine's zone features on synthetic detections: masks, anchors, people at a
 * thing (compound rules), one event per thing across a zone's rules, clusters, schedules,
 * detections dated by their detector, and per-rule overrides.
 */
import { describe, expect, it } from 'vitest';
import { Tracker } from '../../gateway/track/tracker.ts';
import { RuleEngine, beside, boxGap, isNear, type Suppressor, type Verdict } from '../../gateway/rules/engine.ts';
import { resolveZoneRules, type ZoneRule } from '../../gateway/rules/zone-rules.ts';
import { shareInside } from '../../gateway/rules/anchor.ts';
import type { CameraSettings, ZoneSettings } from '../../gateway/settings/schema.ts';
import type { Detection } from '../../gateway/detect/types.ts';
import type { Box, Pt } from '../../gateway/zones/geometry.ts';

const ZONE: Pt[] = [
  [0.1, 0.5],
  [0.9, 0.5],
  [0.9, 0.98],
  [0.1, 0.98],
];
const T0 = Date.parse('2025-06-03T10:00:00+08:00'); // a Tuesday
const det = (box: Box, label: string, extra: object = {}): Detection => ({ label, score: 0.8, box, ...extra });

/** A zone as a technician writes it (defaults left out). */
type ZoneText = Omit<Partial<ZoneSettings>, 'rules' | 'schedule'> & {
  schedule?: unknown;
  rules: (Omit<ZoneSettings['rules'][number], 'schedule'> & { schedule?: unknown })[];
};

function rules(zone: ZoneText, tz = 'Asia/Shanghai'): ZoneRule[] {
  const cam = { id: 'cam', zones: [{ id: 'z', polygon: ZONE, ...zone }] } as unknown as CameraSettings;
  return resolveZoneRules(cam, {}, tz);
}

/** Feeds one frame every `stepS` from `fromS` to `toS` (seconds after T0). */
function run(
  zr: ZoneRule[],
  dets: (s: number) => Detection[],
  toS: number,
  o: { fromS?: number; stepS?: number; suppress?: Suppressor } = {},
) {
  const tracker = new Tracker({ maxMissedS: 8, stationaryRatio: 0.15 });
  const engine = new RuleEngine(zr, o.suppress ?? (() => false), 8);
  const out: (Verdict & { s: number })[] = [];
  for (let s = o.fromS ?? 0; s <= toS; s += o.stepS ?? 1) {
    for (const v of engine.evaluate(tracker.update(dets(s), T0 + s * 1000), T0 + s * 1000)) out.push({ ...v, s });
  }
  return { out, engine, tracker };
}

const STALL: Box = [0.4, 0.55, 0.55, 0.65]; // an umbrella canopy
const VENDOR: Box = [0.56, 0.6, 0.6, 0.85]; // standing beside it, feet on the pavement
const FAR: Box = [0.45, 0.2, 0.47, 0.3]; // small and far behind: only looks near in the picture

describe('people at a thing (street_vending, mobile_vendor)', () => {
  it('a stall fires only with a person at it, dwell counted from when someone is there', () => {
    const zr = rules({ rules: [{ type: 'street_vending', dwell_s: 60 }] });
    expect(zr[0].personWithin).toBe(1);
    const { out } = run(zr, (s) => [det(STALL, 'umbrella'), ...(s >= 30 ? [det(VENDOR, 'person')] : [])], 200);
    expect(out).toHaveLength(1);
    expect(out[0].s).toBe(90);
    expect(out[0].since).toBe(T0 + 30_000);
    expect(out[0].classes).toEqual(['umbrella', 'person']);
    expect(out[0].tracks.map((t) => t.label)).toEqual(['umbrella', 'person']);
    // The event box is the stall's, not the person's.
    expect(out[0].box).toEqual(STALL);
  });

  it('an unattended stall, or one with only someone far behind it, is no stall at work', () => {
    const zr = rules({ rules: [{ type: 'street_vending', dwell_s: 60 }] });
    expect(run(zr, () => [det(STALL, 'umbrella')], 300).out).toEqual([]);
    expect(run(zr, () => [det(STALL, 'umbrella'), det(FAR, 'person')], 300).out).toEqual([]);
    expect(isNear(STALL, FAR, 1)).toBe(false);
    expect(isNear(STALL, VENDOR, 1)).toBe(true);
    expect(boxGap(STALL, VENDOR)).toBeCloseTo(0.01, 9);
  });

  it('require_person_within: false counts unattended stalls; a number sets the reach', () => {
    const off = rules({ rules: [{ type: 'street_vending', dwell_s: 60, require_person_within: false }] });
    expect(run(off, () => [det(STALL, 'umbrella')], 100).out).toHaveLength(1);
    // Half a stall away (0.075): outside a reach of 0.3 stalls (0.045), inside 1.
    const away: Box = [0.625, 0.6, 0.66, 0.85];
    expect(
      run(
        rules({ rules: [{ type: 'street_vending', dwell_s: 60, require_person_within: 0.3 }] }),
        () => [det(STALL, 'umbrella'), det(away, 'person')],
        100,
      ).out,
    ).toEqual([]);
    expect(
      run(
        rules({ rules: [{ type: 'street_vending', dwell_s: 60, require_person_within: 1 }] }),
        () => [det(STALL, 'umbrella'), det(away, 'person')],
        100,
      ).out,
    ).toHaveLength(1);
  });

  it('the stall counts when its vendor stands in the zone, though its canopy hangs above it', () => {
    const ground: Pt[] = [
      [0.1, 0.7],
      [0.9, 0.7],
      [0.9, 0.98],
      [0.1, 0.98],
    ];
    const cam = {
      id: 'cam',
      zones: [{ id: 'z', polygon: ground, rules: [{ type: 'street_vending', dwell_s: 30 }] }],
    } as unknown as CameraSettings;
    const zr = resolveZoneRules(cam);
    expect(shareInside(zr[0], STALL)).toBe(0);
    expect(run(zr, () => [det(STALL, 'umbrella'), det(VENDOR, 'person')], 60).out).toHaveLength(1);
  });

  it('mobile vendor: a bicycle with its rider that stops; riding on is not stopping', () => {
    const zr = rules({ rules: [{ type: 'mobile_vendor' }] });
    expect(zr[0].dwellS).toBe(120);
    const bike = (s: number): Box => [0.2 + s * 0.004, 0.7, 0.3 + s * 0.004, 0.85];
    const rider = (s: number): Box => [0.22 + s * 0.004, 0.55, 0.28 + s * 0.004, 0.84];
    expect(run(zr, (s) => [det(bike(s), 'bicycle'), det(rider(s), 'person')], 150).out).toEqual([]);
    const stopped = run(zr, (s) => [det(bike(Math.min(s, 20)), 'bicycle'), det(rider(Math.min(s, 20)), 'person')], 200).out;
    expect(stopped).toHaveLength(1);
    // Stopped at 20 s; the last moves within stationary_ratio already counted as standing.
    expect(stopped[0].s).toBeGreaterThanOrEqual(135);
    expect(stopped[0].s).toBeLessThanOrEqual(140);
  });
});

describe('masks and anchors', () => {
  const BAY: Pt[] = [
    [0.1, 0.5],
    [0.4, 0.5],
    [0.4, 0.98],
    [0.1, 0.98],
  ];
  const bikes = (xs: number[]) => xs.map((x) => det([x, 0.7, x + 0.06, 0.82], 'bicycle'));

  it('a thing whose foot is in a mask does not count', () => {
    const zr = rules({ mask: [BAY] as [number, number][][], rules: [{ type: 'non_motor_parking', dwell_s: 30 }] });
    // Two in the bay and two outside: not three outside.
    expect(run(zr, () => bikes([0.15, 0.25, 0.5, 0.6]), 100).out).toEqual([]);
    const three = run(zr, () => bikes([0.15, 0.5, 0.6, 0.7]), 100).out;
    expect(three).toHaveLength(1);
    expect(three[0].tracks).toHaveLength(3);
    expect(three[0].box[0]).toBeCloseTo(0.5, 9);
  });

  it('anchor: foot, centre or a quarter of the box', () => {
    const car: Box = [0.4, 0.3, 0.6, 0.55]; // foot in the zone (y > 0.5), centre above it
    const go = (anchor: 'foot' | 'centre' | 'box') =>
      run(rules({ rules: [{ type: 'illegal_parking', dwell_s: 10, anchor }] }), () => [det(car, 'car')], 30).out.length;
    expect(go('foot')).toBe(1);
    expect(go('centre')).toBe(0);
    expect(go('box')).toBe(0); // only a fifth of it is in the zone
    const low: Box = [0.4, 0.4, 0.6, 0.6]; // half in
    expect(run(rules({ rules: [{ type: 'illegal_parking', dwell_s: 10, anchor: 'box' }] }), () => [det(low, 'car')], 30).out).toHaveLength(
      1,
    );
  });
});

describe('one thing, one event', () => {
  it('a cart is a mobile vendor or a stall, not both', () => {
    const zr = rules({ rules: [{ type: 'mobile_vendor' }, { type: 'street_vending' }] });
    const cart: Box = [0.4, 0.6, 0.55, 0.8];
    const { out } = run(zr, () => [det(cart, 'vendor_cart'), det([0.56, 0.55, 0.6, 0.8], 'person')], 600);
    expect(out.map((v) => v.rule.type)).toEqual(['mobile_vendor']);
  });

  it('a second umbrella of the same stall, seen later, joins the first event quietly', () => {
    const zr = rules({ rules: [{ type: 'street_vending', dwell_s: 60 }] });
    const second: Box = [0.56, 0.55, 0.7, 0.65];
    const { out } = run(zr, (s) => [det(STALL, 'umbrella'), det(VENDOR, 'person'), ...(s >= 40 ? [det(second, 'umbrella')] : [])], 400);
    expect(out).toHaveLength(1);
    expect(beside(STALL, second)).toBe(true);
  });

  it('two cars parked bumper to bumper are two matters', () => {
    const zr = rules({ rules: [{ type: 'illegal_parking', dwell_s: 30 }] });
    const { out } = run(zr, (s) => [det([0.2, 0.6, 0.4, 0.8], 'car'), ...(s >= 20 ? [det([0.41, 0.6, 0.61, 0.8], 'car')] : [])], 100);
    expect(out.map((v) => v.s)).toEqual([30, 50]);
  });

  // Field finding: five cars parked at once in one zone gave one event with the union of
  // their boxes and all five track ids. Each car is its own case (its own plate, notice).
  it('cars parked side by side at the same moment are one verdict each, with their own box and track', () => {
    const zr = rules({ rules: [{ type: 'illegal_parking', dwell_s: 30 }] });
    const cars: Box[] = [0, 1, 2, 3, 4].map((i) => [0.21 + i * 0.115, 0.6, 0.32 + i * 0.115, 0.8]);
    const { out } = run(zr, () => cars.map((b) => det(b, 'car')), 100);
    expect(out).toHaveLength(5);
    expect(out.every((v) => v.s === 30)).toBe(true);
    expect(out.map((v) => v.box)).toEqual(cars);
    expect(out.map((v) => v.tracks.length)).toEqual([1, 1, 1, 1, 1]);
    expect(new Set(out.map((v) => v.tracks[0].id)).size).toBe(5);
  });

  it('a suppressed car does not hold back its neighbour: each is asked about its own spot', () => {
    const zr = rules({ rules: [{ type: 'illegal_parking', dwell_s: 30 }] });
    const left: Box = [0.25, 0.6, 0.4, 0.8];
    const right: Box = [0.42, 0.6, 0.57, 0.8];
    const asked: Box[] = [];
    const { out } = run(zr, () => [det(left, 'car'), det(right, 'car')], 60, {
      suppress: (_r, box) => {
        asked.push(box);
        return box[0] === left[0];
      },
    });
    expect(out.map((v) => v.box)).toEqual([right]);
    expect(asked).toContainEqual(left);
    expect(asked).not.toContainEqual([left[0], left[1], right[2], right[3]]);
  });

  it('two carts side by side, each with its vendor, are two mobile_vendor matters', () => {
    const zr = rules({ rules: [{ type: 'mobile_vendor', dwell_s: 30 }] });
    const carts: Box[] = [
      [0.25, 0.6, 0.35, 0.8],
      [0.5, 0.6, 0.6, 0.8],
    ];
    const people: Box[] = [
      [0.36, 0.55, 0.4, 0.8],
      [0.61, 0.55, 0.65, 0.8],
    ];
    const { out } = run(zr, () => [...carts.map((b) => det(b, 'vendor_cart')), ...people.map((b) => det(b, 'person'))], 60);
    expect(out).toHaveLength(2);
    expect(out.map((v) => v.box)).toEqual(carts);
    expect(out.map((v) => v.classes)).toEqual([
      ['vendor_cart', 'person'],
      ['vendor_cart', 'person'],
    ]);
  });

  it('stalls ready together stay one street_vending matter for the cluster (unchanged)', () => {
    const zr = rules({ rules: [{ type: 'street_vending', dwell_s: 60 }] });
    const second: Box = [0.56, 0.55, 0.7, 0.65];
    const { out } = run(zr, () => [det(STALL, 'umbrella'), det(second, 'umbrella'), det(VENDOR, 'person')], 200);
    expect(out).toHaveLength(1);
    expect(out[0].box).toEqual([STALL[0], STALL[1], second[2], second[3]]);
    expect(out[0].tracks.map((t) => t.label).sort()).toEqual(['person', 'umbrella', 'umbrella']);
  });
});

describe('schedules', () => {
  const car: Box = [0.4, 0.6, 0.55, 0.8];
  it('dwell counts only while the rule runs', () => {
    // Active from 10:05 local; the car is there from 10:00.
    const zr = rules({ schedule: { active: [{ from: '10:05', to: '19:00' }] }, rules: [{ type: 'illegal_parking' }] });
    const { out } = run(zr, () => [det(car, 'car')], 1200);
    expect(out).toHaveLength(1);
    expect(out[0].s).toBe(300 + 180);
  });

  it("a rule's own schedule replaces the zone's, and the other rules keep the zone's", () => {
    const zr = rules({
      schedule: { inactive: [{ days: ['tue'] }] },
      rules: [
        { type: 'illegal_parking', dwell_s: 10 },
        { type: 'river_intrusion', dwell_s: 10, schedule: { active: [{ days: ['tue'] }] } },
      ],
    });
    const { out } = run(zr, () => [det(car, 'car'), det([0.7, 0.6, 0.75, 0.9], 'person')], 60);
    expect(out.map((v) => v.rule.type)).toEqual(['river_intrusion']);
  });

  it('windows are in the site time zone', () => {
    // 10:00 in Shanghai is 04:00 in Berlin (summer): a 09:00-18:00 window is open in one, not the other.
    const open = { schedule: { active: [{ from: '09:00', to: '18:00' }] }, rules: [{ type: 'illegal_parking' as const, dwell_s: 10 }] };
    expect(run(rules(open, 'Asia/Shanghai'), () => [det(car, 'car')], 30).out).toHaveLength(1);
    expect(run(rules(open, 'Europe/Berlin'), () => [det(car, 'car')], 30).out).toEqual([]);
  });
});

describe('detections dated by their detector, and overrides', () => {
  it('a static-change region reported late counts from when it appeared', () => {
    const zr = rules({ rules: [{ type: 'garbage_exposure' }] });
    const bag: Box = [0.4, 0.8, 0.5, 0.9];
    const { out, tracker } = run(zr, (s) => (s >= 30 ? [det(bag, 'static_change', { since: T0 })] : []), 700);
    expect(out).toHaveLength(1);
    expect(out[0].s).toBe(600);
    expect(out[0].since).toBe(T0);
    expect(tracker.all()[0].firstSeen).toBe(T0);
  });

  it('a date in the future is not believed', () => {
    const zr = rules({ rules: [{ type: 'garbage_exposure' }] });
    const { out } = run(zr, () => [det([0.4, 0.8, 0.5, 0.9], 'static_change', { since: T0 + 3_600_000 })], 700);
    expect(out.map((v) => v.s)).toEqual([600]);
  });

  it('stationary: false makes a parking rule count a car that keeps moving about', () => {
    // Back and forth along the kerb, 0.02 a second, never still.
    const x = (s: number) => 0.2 + 0.02 * (s % 40 < 20 ? s % 40 : 40 - (s % 40));
    const moving = (s: number): Box => [x(s), 0.6, x(s) + 0.15, 0.8];
    expect(run(rules({ rules: [{ type: 'illegal_parking', dwell_s: 30 }] }), (s) => [det(moving(s), 'car')], 100).out).toEqual([]);
    expect(
      run(rules({ rules: [{ type: 'illegal_parking', dwell_s: 30, stationary: false }] }), (s) => [det(moving(s), 'car')], 100).out,
    ).toHaveLength(1);
  });
});
