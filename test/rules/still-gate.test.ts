/**
 * The still gate misses nothing, through the real pipeline: ffmpeg decodes the scenario
 * videos' key frames, the gate looks at each, YOLOX-Nano detects on the frames it lets
 * through, the tracker and the rules decide. Three scenes, each a stretch with nothing
 * happening and then a taxi that parks on the no-parking plaza (dwell 30 s): an empty
 * street, a slow drift of light over the whole picture, and fresh rain-like noise on every
 * pixel of every frame. Each is run twice, gate on (the default, still_max_s 10) and off
 * (still_max_s 0): the events must be the same, and the gate must have skipped frames,
 * also while the parked taxi's dwell runs.
 *
 * The videos are 5 fps with a key frame every second, so the in-process decoder (node-av,
 * the default where it loads) sees P-frames: on the empty street and under the drifting
 * light most still frames are not even decoded (their P-frames cost next to nothing); in
 * the rain every P-frame costs a good part of a picture, so every frame is decoded and the
 * thumbnail decides.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { havePeers } from '../peers/require.ts';
import { compareTimeline, runScenarios, type ScenarioResult } from '../../scripts/scenario-run.ts';
import type { ExpectedEvent } from '../../scripts/scenario.ts';
import { iou, type Box } from '../../gateway/zones/geometry.ts';

const ok = havePeers('ffmpeg');
/** When the taxi comes into the picture (its first keyframe, just outside it) and when it stops. */
const SCENES: Record<string, { arrives: number; stops: number }> = {
  'gate-park': { arrives: 63, stops: 67 },
  'gate-light-drift': { arrives: 53, stops: 57 },
  'gate-rain': { arrives: 47, stops: 51 },
};
const NAMES = Object.keys(SCENES);
const STILL_MAX_S = 10;

describe.runIf(ok)('the still gate on scenario videos through the real pipeline', () => {
  let on: Map<string, ScenarioResult>;
  let off: Map<string, ScenarioResult>;

  beforeAll(async () => {
    on = await runScenarios(NAMES);
    off = await runScenarios(NAMES, { camera: { still_max_s: 0 } });
  }, 240_000);

  it.each(NAMES)('%s: the parking event is raised on time, the same as with every frame inferred', (name) => {
    const r = on.get(name)!;
    const expected = (r.scenario.expect ?? []) as ExpectedEvent[];
    expect(compareTimeline(expected, r.events)).toEqual([]);
    const all = off.get(name)!;
    // The gate off really infers every frame, and finds the same.
    expect(all.stillSkipped).toBe(0);
    expect(all.frames.length).toBeGreaterThanOrEqual(r.scenario.duration_s - 1);
    expect(compareTimeline(expected, all.events)).toEqual([]);
    expect(r.events).toHaveLength(all.events.length);
    r.events.forEach((e, i) => {
      expect(e.confirmedS).toBeCloseTo(all.events[i].confirmedS, 0);
      expect(e.firstSeenS).toBeCloseTo(all.events[i].firstSeenS, 0);
      expect(iou(e.box as unknown as Box, all.events[i].box as unknown as Box)).toBeGreaterThan(0.8);
    });
  });

  it('leaves still frames undecoded where the P-frames say still (not in the rain)', async () => {
    const { chooseDecoder } = await import('../../gateway/capture/decoder.ts');
    if ((await chooseDecoder({ decoder: 'auto' })) !== 'node-av') {
      if (process.env.CI === 'true') throw new Error('node-av does not load: the P-frame test cannot run');
      return;
    }
    for (const name of ['gate-park', 'gate-light-drift']) {
      const r = on.get(name)!;
      // Most skipped frames were never decoded.
      expect(r.quietSkipped, name).toBeGreaterThan(r.stillSkipped * 0.7);
      expect(off.get(name)!.quietSkipped, name).toBe(0);
    }
    const rain = on.get('gate-rain')!;
    expect(rain.stillSkipped).toBeGreaterThan(0);
    expect(rain.quietSkipped).toBe(0);
  });

  it.each(NAMES)('%s: still stretches are skipped, never for longer than still_max_s; the taxi is watched throughout', (name) => {
    const r = on.get(name)!;
    const { arrives, stops } = SCENES[name];
    const times = r.frames.map((f) => Math.round(f.t));
    expect(r.stillSkipped).toBeGreaterThan(0);
    // Every frame of the video was either inferred or skipped by the gate.
    expect(r.frames.length + r.stillSkipped).toBeGreaterThanOrEqual(r.scenario.duration_s - 1);
    // Before the taxi: about one frame in still_max_s is inferred (nothing moves, the light
    // drifts, the rain falls).
    const before = times.filter((t) => t < arrives);
    expect(before.length).toBeLessThanOrEqual(Math.ceil(arrives / STILL_MAX_S) + 1);
    // Never longer than still_max_s between inferred frames.
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeLessThanOrEqual(STILL_MAX_S);
    // From the frame the taxi first shows in until the one after it stops, every frame is
    // inferred: it changes the picture as it drives in, and the stop gets its second look.
    for (let t = arrives + 1; t <= stops + 1; t++) expect(times, `frame at ${t} s`).toContain(t);
    // Standing still while its dwell runs, it is held by the tracker (the picture says it is
    // still there), and the frame that completes the dwell is inferred: the verdict comes
    // from a real detection, on the same frame as with the gate off.
    const confirmed = Math.round(r.events[0].confirmedS);
    expect(times).toContain(confirmed);
    const dwelling = times.filter((t) => t > stops + 1 && t < confirmed);
    // (The detector's box settles over a few frames after the stop: those are inferred.)
    expect(dwelling.length).toBeLessThanOrEqual((confirmed - stops) / 2);
    // Parked, its event raised, nothing else happening: skipped again.
    const after = times.filter((t) => t > confirmed);
    expect(after.length).toBeLessThanOrEqual(Math.ceil((r.scenario.duration_s - confirmed) / STILL_MAX_S) + 1);
  });
});
