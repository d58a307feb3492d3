/**
 * Detection streams: timed detections, as a detector hands them to the tracker, replayed
 * through the real tracker and rules without video or model. For the types whose evidence
 * COCO has no class for (garbage, banners, smoke: custom models) and for the model-free
 * static-change detector's `static_change` regions, and for long stretches of time
 * (schedules, cooldowns) that no video needs to show.
 *
 *   node --import tsx scripts/detections.ts test/fixtures/detections/garbage-static.json
 *
 * A stream file holds zones as in the settings file, a start time, a frame period, and
 * detections: `objects` (a thing over an interval: box keyframes, misses, label flips,
 * jitter, all deterministic), `frames` (detections at given seconds), and `recorded` (a
 * file of detections recorded from the real model on a scenario video, looped: people
 * and cars passing by). Its `expect` list is the event timeline it must give.
 *
 * Events follow the lifecycle as far as rules care: open from confirmation; at the
 * recheck (grace_s later) closed if the thing has gone, else kept open; a spot with an
 * open event, or one closed within cooldown_s, holds new verdicts back.
 */
import { DEFAULT_TIME_ZONE } from '../gateway/timezone.ts';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Zone, type CameraSettings, type ZoneSettings } from '../gateway/settings/schema.ts';
import { compile, dotted, pathOf, describe } from '../gateway/validate.ts';
import { resolveZoneRules, type ZoneRule } from '../gateway/rules/zone-rules.ts';
import { RuleEngine, type Verdict } from '../gateway/rules/engine.ts';
import { Tracker } from '../gateway/track/tracker.ts';
import { iou, type Box } from '../gateway/zones/geometry.ts';
import type { Detection } from '../gateway/detect/types.ts';
import { compareTimeline, type SeenEvent } from './scenario-run.ts';
import type { ExpectedEvent } from './scenario.ts';

type Det = [label: string, score: number, box: [number, number, number, number], sinceS?: number];

export interface StreamObject {
  label: string;
  /** Labels to cycle through instead, one per frame seen (a detector unsure of its class). */
  labels?: string[];
  score?: number;
  /** [t, x1, y1, x2, y2] keyframes, linear in between; present from the first to the last. */
  boxes: [number, number, number, number, number][];
  /** [from, to) seconds when the detector misses it. */
  miss?: [number, number][];
  /** Also missed on every n-th frame it is there. */
  miss_every?: number;
  /** Each box edge moves by up to this much (normalised), repeatably. */
  jitter?: number;
  /** The detector reports since when the thing has been there (static change: it waits before reporting). */
  since_s?: number;
}

export interface DetectionStream {
  description: string;
  /** The wall-clock time of t = 0, ISO 8601 with an offset. */
  start: string;
  timezone?: string;
  interval_s: number;
  duration_s: number;
  tracking?: { max_missed_s?: number; stationary_ratio?: number };
  zones: ZoneSettings[];
  objects?: StreamObject[];
  frames?: { t: number; d: Det[] }[];
  /** A recorded stream ({ interval_s, frames }), relative to this file; looped. */
  recorded?: string;
  expect: ExpectedEvent[];
}

export interface ReplayEvent extends SeenEvent {
  closedS: number | null;
}

/** One track as the tracker kept it: for checking how much the detections flickered. */
export interface SeenTrack {
  id: number;
  label: string;
  firstS: number;
  lastS: number;
  firstBox: readonly number[];
  /** Where it was last seen. */
  box: readonly number[];
}

/** A repeatable PRNG (the same stream gives the same jitter every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

function boxAt(o: StreamObject, t: number): Box | null {
  const k = o.boxes;
  if (t < k[0][0] || t > k[k.length - 1][0]) return null;
  let i = 0;
  while (i < k.length - 2 && t > k[i + 1][0]) i++;
  const [t0, ...a] = k[i];
  const [t1, ...b] = k[Math.min(i + 1, k.length - 1)];
  const f = t1 > t0 ? Math.min(1, (t - t0) / (t1 - t0)) : 0;
  return a.map((v, j) => v + (b[j] - v) * f) as unknown as Box;
}

const clamp = (v: number) => Math.min(1, Math.max(0, v));

/** The detections of every frame, in order. */
export function expand(s: DetectionStream, base: number, dir: string): { ts: number; dets: Detection[] }[] {
  const frames: { ts: number; dets: Detection[] }[] = [];
  const explicit = new Map((s.frames ?? []).map((f) => [Math.round(f.t * 1000), f.d]));
  const rec = s.recorded
    ? (JSON.parse(readFileSync(resolve(dir, s.recorded), 'utf8')) as { interval_s: number; frames: { t: number; d: Det[] }[] })
    : null;
  const recSpan = rec ? rec.frames.length * rec.interval_s : 0;
  const recAt = new Map(rec?.frames.map((f) => [Math.round(f.t * 1000), f.d]) ?? []);
  const random = rng(7);
  const seen = new Map<StreamObject, number>();
  const toDet = ([label, score, box, sinceS]: Det): Detection & { since?: number } => ({
    label,
    score,
    box,
    ...(sinceS !== undefined ? { since: base + sinceS * 1000 } : {}),
  });
  for (let i = 0; i * s.interval_s <= s.duration_s; i++) {
    const t = +(i * s.interval_s).toFixed(3);
    const dets: Detection[] = [];
    if (rec) dets.push(...(recAt.get(Math.round((t % recSpan) * 1000)) ?? []).map(toDet));
    for (const o of s.objects ?? []) {
      const b = boxAt(o, t);
      if (!b) continue;
      const n = (seen.get(o) ?? 0) + 1;
      seen.set(o, n);
      if (o.miss?.some(([a, z]) => t >= a && t < z) || (o.miss_every && n % o.miss_every === 0)) continue;
      const j = o.jitter ?? 0;
      const box = b.map((v) => clamp(v + (random() - 0.5) * 2 * j)) as unknown as Box;
      const label = o.labels ? o.labels[(n - 1) % o.labels.length] : o.label;
      dets.push({ label, score: o.score ?? 0.6, box, ...(o.since_s !== undefined ? { since: base + o.since_s * 1000 } : {}) } as Detection);
    }
    dets.push(...(explicit.get(Math.round(t * 1000)) ?? []).map(toDet));
    frames.push({ ts: base + Math.round(t * 1000), dets });
  }
  return frames;
}

/** Zones as in the settings file, with the schema's defaults and checks. */
export function streamRules(s: DetectionStream, camera = 'stream'): ZoneRule[] {
  const check = compile<ZoneSettings>(Zone, true);
  const zones = s.zones.map((z, i) => {
    const copy = structuredClone(z);
    if (!check(copy)) throw new Error(`zones[${i}]: ${(check.errors ?? []).map((e) => `${dotted(pathOf(e))} ${describe(e)}`).join('; ')}`);
    return copy;
  });
  return resolveZoneRules({ id: camera, zones } as unknown as CameraSettings, {}, s.timezone ?? DEFAULT_TIME_ZONE);
}

/** Replays a stream through the tracker, the rules and a stand-in for the event lifecycle. */
export function replay(s: DetectionStream, dir = '.'): { base: number; events: ReplayEvent[]; frames: number; tracks: SeenTrack[] } {
  const base = Date.parse(s.start);
  if (Number.isNaN(base)) throw new Error(`start: "${s.start}" is not an ISO 8601 time`);
  const maxMissedS = s.tracking?.max_missed_s ?? 8;
  const tracker = new Tracker({ maxMissedS, stationaryRatio: s.tracking?.stationary_ratio ?? 0.15 });
  const open: { v: Verdict; e: ReplayEvent; recheckAt: number }[] = [];
  const events: ReplayEvent[] = [];
  const suppress = (r: ZoneRule, box: Box, ts: number) =>
    events.some(
      (e) =>
        e.type === r.type &&
        e.zone === r.zone &&
        (e.closedS === null || base + e.closedS * 1000 >= ts - r.cooldownS * 1000) &&
        (iou(e.box as Box, box) > 0.3 || r.minCount > 1),
    );
  const engine = new RuleEngine(streamRules(s), suppress, maxMissedS);
  const frames = expand(s, base, dir);
  const seen = new Map<number, SeenTrack>();
  for (const f of frames) {
    const tracks = tracker.update(f.dets, f.ts);
    for (const t of tracks) {
      if (!t.visible) continue;
      const k = seen.get(t.id) ?? { id: t.id, label: t.label, firstS: (t.firstSeen - base) / 1000, lastS: 0, firstBox: t.box, box: t.box };
      k.lastS = (f.ts - base) / 1000;
      k.box = t.box;
      k.label = t.label;
      seen.set(t.id, k);
    }
    for (const v of engine.evaluate(tracks, f.ts)) {
      const e: ReplayEvent = {
        id: `${events.length + 1}`,
        type: v.rule.type,
        zone: v.rule.zone,
        confirmedS: (v.at - base) / 1000,
        firstSeenS: (v.since - base) / 1000,
        classes: v.classes,
        trackIds: v.tracks.map((t) => t.id),
        box: v.box,
        closedS: null,
      };
      events.push(e);
      open.push({ v, e, recheckAt: v.at + v.rule.graceS * 1000 });
    }
    for (const o of open.filter((x) => x.recheckAt <= f.ts)) {
      open.splice(open.indexOf(o), 1);
      const p = engine.presence(o.v.rule.type, o.v.rule.zone, o.v.box, o.e.trackIds, f.ts, 10_000);
      if (p === 'absent') o.e.closedS = (f.ts - base) / 1000;
    }
  }
  return { base, events, frames: frames.length, tracks: [...seen.values()] };
}

export function loadStream(file: string): DetectionStream {
  return JSON.parse(readFileSync(file, 'utf8')) as DetectionStream;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { positionals } = parseArgs({ allowPositionals: true });
  let failed = false;
  for (const file of positionals) {
    const s = loadStream(file);
    const r = replay(s, dirname(resolve(file)));
    console.log(`\n== ${file}: ${s.description}\n${r.frames} frames`);
    for (const e of r.events)
      console.log(
        `  event ${e.type} in ${e.zone}: since ${e.firstSeenS} s, confirmed ${e.confirmedS} s, ${e.classes.join('+')}, tracks ${e.trackIds.join(',')}${e.closedS !== null ? `, closed at the recheck ${e.closedS} s` : ''}`,
      );
    const problems = compareTimeline(s.expect, r.events);
    for (const p of problems) console.log(`  MISMATCH ${p}`);
    if (!problems.length) console.log('  timeline as expected');
    failed ||= problems.length > 0;
  }
  process.exit(failed ? 1 : 0);
}
