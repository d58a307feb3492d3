/**
 * The types whose evidence COCO has no class for (garbage, debris, banners, clothes,
 * floating debris, smoke and fire come from users' custom models, or from the model-free
 * static-change detector's `static_change` regions), and the settings that need hours of
 * time (schedules, cooldowns): detection streams in test/fixtures/detections/ replayed
 * through the real tracker and rules. Each file states its expected event timeline; some
 * carry detections recorded from the real model on a scenario video (people and cars).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStream, replay, type DetectionStream } from '../../scripts/detections.ts';
import { compareTimeline } from '../../scripts/scenario-run.ts';
import { CATALOGUE, VIOLATION_TYPES } from '../../gateway/rules/catalogue.ts';
import { iou, type Box } from '../../gateway/zones/geometry.ts';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'detections');
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.replace(/\.json$/, ''))
  .sort();
const load = (name: string): DetectionStream => loadStream(join(DIR, `${name}.json`));
const run = (s: DetectionStream) => replay(s, DIR);

describe('detection streams through the tracker and rules', () => {
  it.each(FILES)('%s: the events match the expected timeline', (name) => {
    const s = load(name);
    expect(compareTimeline(s.expect, run(s).events)).toEqual([]);
  });

  it('cover every type that COCO cannot see', () => {
    const covered = new Set(
      FILES.flatMap((f) =>
        load(f)
          .expect.filter((x) => x.count > 0)
          .map((x) => x.type),
      ),
    );
    for (const t of [
      'garbage_exposure',
      'material_stacking',
      'illegal_advertising',
      'street_drying',
      'river_floating_debris',
      'open_burning',
    ])
      expect(covered, t).toContain(t);
    expect(VIOLATION_TYPES.filter((t) => !covered.has(t))).toEqual(['mobile_vendor', 'non_motor_parking', 'river_intrusion']);
  });

  it('static change alone is garbage: dated from when the bag appeared, one event through a 20 s occlusion', () => {
    const r = run(load('garbage-static'));
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ classes: ['static_change'], firstSeenS: 30, confirmedS: 630 });
    // The occlusion (400-420 s) really split the bag into two tracks at the same spot.
    const bag = r.tracks.filter((t) => t.label === 'static_change' && iou(t.box as Box, r.events[0].box as Box) > 0.5);
    expect(bag.length).toBeGreaterThanOrEqual(2);
    // The heap taken away after 7 minutes was tracked, and is no event.
    expect(r.tracks.some((t) => t.label === 'static_change' && t.box[0] > 0.75 && t.lastS - t.firstS > 300)).toBe(true);
    // People walked through the zone (recorded from the real model) without counting.
    expect(r.tracks.filter((t) => t.label === 'person').length).toBeGreaterThan(5);
  });

  it('static change is evidence only where the zone says so: classes [garbage] ignores it', () => {
    const s = load('garbage-static');
    s.zones[0].rules[0].classes = ['garbage'];
    expect(run(s).events).toEqual([]);
    expect(CATALOGUE.garbage_exposure.classes).toContain('static_change');
  });

  it('a pile seen by a custom model and by static change is one matter, one event', () => {
    const r = run(load('material-stacking'));
    const labels = new Set(r.tracks.map((t) => t.label));
    expect(labels).toContain('debris');
    expect(labels).toContain('static_change');
    expect(r.events).toHaveLength(1);
  });

  it('smoke and the fire under it are one event', () => {
    const r = run(load('open-burning'));
    expect(r.tracks.some((t) => t.label === 'fire' && t.lastS - t.firstS > 60)).toBe(true);
    expect(r.events).toHaveLength(1);
    expect(CATALOGUE.open_burning.stationary).toBe(false);
  });

  it('floating debris drifts: it need not stand still, but a bottle floating through is no event', () => {
    const r = run(load('floating-debris'));
    const river = r.events.filter((e) => e.zone === 'river');
    const [e] = river;
    expect(river).toHaveLength(1);
    // In the eddy, static change alone found the rubbish caught there.
    expect(r.events.filter((x) => x.zone === 'eddy').map((x) => x.classes)).toEqual([['static_change']]);
    // It drifted a third of the picture while it was watched.
    const mat = r.tracks.find((t) => e.trackIds.includes(t.id))!;
    expect(mat.box[0] - mat.firstBox[0]).toBeGreaterThan(0.3);
    // The bottle was seen in the zone, but never long enough.
    expect(r.tracks.filter((t) => t.label === 'floating_debris' && t.box[1] > 0.58).length).toBeGreaterThan(0);
  });

  it('schedules: dwell counts only while a rule runs, in the site time zone, with holidays', () => {
    const market = run(load('night-market'));
    // 22:05 local (UTC+8) on the day.
    expect(new Date(market.base + market.events[0].confirmedS * 1000).toISOString()).toBe('2025-06-03T14:05:00.000Z');
    // The stall that traded 19:00-21:30, inside the tolerated hours, was there and is no event.
    expect(market.tracks.some((t) => t.label === 'stall' && t.firstS >= 4000 && t.lastS - t.firstS > 8000)).toBe(true);
    const days = run(load('parking-workdays'));
    expect(days.events.map((e) => new Date(days.base + e.confirmedS * 1000).toISOString())).toEqual([
      '2025-06-02T23:03:00.000Z',
      '2025-06-03T10:53:00.000Z',
    ]);
    // In another time zone the same windows fall at other instants.
    const elsewhere = load('parking-workdays');
    elsewhere.timezone = 'Europe/Berlin';
    expect(compareTimeline(elsewhere.expect, run(elsewhere).events)).not.toEqual([]);
  });

  it('cooldown: back within it is held back, back after it is a new event', () => {
    const r = run(load('parking-cooldown'));
    expect(r.events.map((e) => [e.confirmedS, e.closedS])).toEqual([
      [180, 300],
      [1180, null],
    ]);
    // The car was really back (400-700 s) while the cooldown held.
    expect(r.tracks.some((t) => t.firstS >= 400 && t.lastS <= 700 && t.lastS - t.firstS > 250)).toBe(true);
  });
});
