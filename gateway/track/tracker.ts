/**
 * Keeps identity across frames for one camera. Frames come every second or two, so this
 * is deliberately simple: greedy matching on IoU with a centre-distance fallback, within
 * a class family. It tolerates missed detections (a track lives on for max_missed_s),
 * box jitter and brief occlusion, and it knows how long each thing has stood still.
 * All durations are wall-clock times from frame timestamps, never frame counts.
 *
 * A box that falls behind analyses each camera less often than `intervalS`. Track
 * lifetime then stretches by the same factor (the achieved interval over the wanted one),
 * so `max_missed_s` keeps meaning the same number of missed analyses and a parked car's
 * dwell survives a slow box instead of restarting at every frame.
 */
import { iou, centre, type Box } from '../zones/geometry.ts';
import type { Detection } from '../detect/types.ts';
import { IntervalMeter } from './interval.ts';

export interface Track {
  id: number;
  /** The label seen most often on this track. */
  label: string;
  box: Box;
  score: number;
  firstSeen: number;
  lastSeen: number;
  hits: number;
  /** When it last moved; it has stood still since then. */
  stillSince: number;
  /** The box it is standing still at. */
  anchor: Box;
  /** Seen in the latest frame (false while coasting through missed detections). */
  visible: boolean;
  labels: Map<string, number>;
}

/** A track as shown outside the gateway (the console): plain data, durations in seconds. */
export interface TrackView {
  id: number;
  label: string;
  box: Box;
  score: number;
  /** Seconds since it was first seen. */
  age_s: number;
  /** Seconds it has stood still (what the dwell rules time). */
  still_s: number;
  /** False while it coasts through missed detections. */
  visible: boolean;
}

export function trackView(t: Track, ts: number): TrackView {
  const s = (ms: number) => Math.round(ms / 100) / 10;
  return {
    id: t.id,
    label: t.label,
    box: t.box,
    score: t.score,
    age_s: s(ts - t.firstSeen),
    still_s: s(ts - t.stillSince),
    visible: t.visible,
  };
}

/** A detection that knows when its thing appeared (the static-change detector's regions). */
export interface Dated extends Detection {
  since?: number;
}

export interface TrackerOptions {
  maxMissedS: number;
  /** How far the box centre may drift, as a share of the box's larger side, and still be "still". */
  stationaryRatio: number;
  minIou?: number;
  /** The wanted analysis interval; without it, lifetime is `maxMissedS` however slow the frames come. */
  intervalS?: number;
}

/** Detectors flip between these on the same object; identity should not. */
const FAMILIES: string[][] = [
  ['car', 'truck', 'bus'],
  ['bicycle', 'motorcycle'],
  ['dining table', 'bench', 'chair'],
];
const familyOf = new Map<string, number>();
FAMILIES.forEach((f, i) => f.forEach((l) => familyOf.set(l, i)));

export function sameFamily(a: string, b: string): boolean {
  if (a === b) return true;
  const fa = familyOf.get(a);
  return fa !== undefined && fa === familyOf.get(b);
}

export class Tracker {
  private tracks: Track[] = [];
  private nextId = 1;
  private readonly o: Required<Omit<TrackerOptions, 'intervalS'>> & { intervalS?: number };
  /** The interval frames actually come at. */
  readonly interval = new IntervalMeter();

  constructor(o: TrackerOptions) {
    this.o = { minIou: 0.2, ...o };
  }

  /**
   * How long a track lives through missed detections, in ms: `maxMissedS`, stretched when
   * the frames come slower than wanted. The gap being judged is not part of the median,
   * so a camera that stalls still loses its tracks.
   */
  lifetimeMs(): number {
    const base = this.o.maxMissedS * 1000;
    const achieved = this.interval.medianMs();
    if (!this.o.intervalS || achieved === null) return base;
    return base * Math.max(1, achieved / (this.o.intervalS * 1000));
  }

  /** Updates with one frame's detections and returns every live track. */
  update(dets: readonly Detection[], ts: number): Track[] {
    const lifetime = this.lifetimeMs();
    this.interval.add(ts);
    // Expire first: after a gap with no frames at all (a stalled camera), an old track
    // must not be matched and keep a dwell that was never observed.
    this.tracks = this.tracks.filter((t) => ts - t.lastSeen <= lifetime);
    const pairs: { t: number; d: number; score: number }[] = [];
    for (let ti = 0; ti < this.tracks.length; ti++) {
      const t = this.tracks[ti];
      for (let di = 0; di < dets.length; di++) {
        const d = dets[di];
        if (!sameFamily(t.label, d.label)) continue;
        const ov = iou(t.box, d.box);
        let score = ov;
        if (ov < this.o.minIou) {
          // Small, far objects jitter more than their size: allow a close centre instead.
          const [tx, ty] = centre(t.box);
          const [dx, dy] = centre(d.box);
          const size = Math.max(t.box[2] - t.box[0], t.box[3] - t.box[1]);
          const dist = Math.hypot(tx - dx, ty - dy) / Math.max(size, 1e-6);
          if (dist > 0.5) continue;
          score = 0.1 * (1 - dist);
        }
        pairs.push({ t: ti, d: di, score });
      }
    }
    pairs.sort((a, b) => b.score - a.score);
    const usedT = new Set<number>();
    const usedD = new Set<number>();
    for (const p of pairs) {
      if (usedT.has(p.t) || usedD.has(p.d)) continue;
      usedT.add(p.t);
      usedD.add(p.d);
      this.observe(this.tracks[p.t], dets[p.d], ts);
    }
    this.tracks.forEach((t, i) => {
      if (!usedT.has(i)) t.visible = false;
    });
    this.tracks = this.tracks.filter((t) => t.visible || ts - t.lastSeen <= lifetime);
    dets.forEach((d, i) => {
      if (usedD.has(i)) return;
      // A detector that only reports a thing once it has stayed (static change) says since when.
      const since = typeof (d as Dated).since === 'number' ? Math.min((d as Dated).since!, ts) : ts;
      this.tracks.push({
        id: this.nextId++,
        label: d.label,
        box: d.box,
        score: d.score,
        firstSeen: since,
        lastSeen: ts,
        hits: 1,
        stillSince: since,
        anchor: d.box,
        visible: true,
        labels: new Map([[d.label, 1]]),
      });
    });
    return this.tracks;
  }

  /**
   * A frame the still gate skipped: the picture has not changed since the last analysis,
   * so what was seen then is still there. Keeps visible tracks alive (a parked car's track
   * outlives a still stretch longer than `max_missed_s`) and counts as looked at.
   */
  hold(ts: number): void {
    if (ts <= (this.interval.lastTs ?? -Infinity)) return;
    this.interval.add(ts);
    for (const t of this.tracks) if (t.visible) t.lastSeen = ts;
  }

  private observe(t: Track, d: Detection, ts: number): void {
    const [ax, ay] = centre(t.anchor);
    const [cx, cy] = centre(d.box);
    const size = Math.max(t.anchor[2] - t.anchor[0], t.anchor[3] - t.anchor[1], 1e-6);
    if (Math.hypot(cx - ax, cy - ay) / size > this.o.stationaryRatio) {
      t.anchor = d.box;
      t.stillSince = ts;
    }
    t.box = d.box;
    t.score = d.score;
    t.lastSeen = ts;
    t.hits++;
    t.visible = true;
    t.labels.set(d.label, (t.labels.get(d.label) ?? 0) + 1);
    let best = t.label;
    for (const [l, n] of t.labels) if (n > (t.labels.get(best) ?? 0)) best = l;
    t.label = best;
  }

  /** Seconds the track has stood still, as of `ts`. */
  static stillFor(t: Track, ts: number): number {
    return (ts - t.stillSince) / 1000;
  }

  all(): readonly Track[] {
    return this.tracks;
  }
}
