/**
 * Evaluates one camera's zone rules over its tracks, frame by frame. A rule fires a
 * verdict when enough qualifying things have been in its zone (standing still, for the
 * static types) for the dwell time. Each thing fires at most once: the track remembers,
 * and the event stage suppresses a spot that already has an open or recent event.
 */
import { boxArea, footPoint, pointInPolygon, iou, type Box } from '../zones/geometry.ts';
import type { Track } from '../track/tracker.ts';
import type { ZoneRule } from './zone-rules.ts';
import type { ViolationType } from './catalogue.ts';

export interface Verdict {
  rule: ZoneRule;
  tracks: Track[];
  /** The union of the tracks' boxes: where the matter is. */
  box: Box;
  classes: string[];
  /** When the condition started holding. */
  since: number;
  at: number;
}

export type Presence = 'present' | 'absent' | 'unknown';

/** Asked before firing: is there already an open or cooling-down event at this spot? */
export type Suppressor = (rule: ZoneRule, box: Box, ts: number) => boolean;

export class RuleEngine {
  private readonly rules: ZoneRule[];
  private readonly suppress: Suppressor;
  private readonly maxMissedMs: number;
  /** (rule index, track id) → when the track entered the zone. */
  private readonly entered = new Map<string, number>();
  /** (rule index, track id) pairs that already fired. */
  private readonly fired = new Set<string>();
  private tracks: readonly Track[] = [];
  private lastTs = 0;

  constructor(rules: ZoneRule[], suppress: Suppressor, maxMissedS: number) {
    this.rules = rules;
    this.suppress = suppress;
    this.maxMissedMs = maxMissedS * 1000;
  }

  private qualifies(r: ZoneRule, t: Track): boolean {
    if (!r.classes.has(t.label) || boxArea(t.box) < r.minArea) return false;
    const [x, y] = footPoint(t.box);
    return pointInPolygon(x, y, r.polygon);
  }

  evaluate(tracks: readonly Track[], ts: number): Verdict[] {
    this.tracks = tracks;
    this.lastTs = ts;
    const verdicts: Verdict[] = [];
    const alive = new Set<string>();
    this.rules.forEach((r, ri) => {
      const ready: Track[] = [];
      let earliest = ts;
      for (const t of tracks) {
        const key = `${ri}:${t.id}`;
        if (!this.qualifies(r, t)) {
          this.entered.delete(key);
          continue;
        }
        alive.add(key);
        if (!this.entered.has(key)) this.entered.set(key, ts);
        const since = r.stationary ? Math.max(this.entered.get(key)!, t.stillSince) : this.entered.get(key)!;
        // Only a thing seen in this very frame can fire: a track coasting through missed
        // detections keeps its place, but its last box may be somewhere it has left.
        if (this.fired.has(key) || !t.visible || (ts - since) / 1000 < r.dwellS) continue;
        ready.push(t);
        earliest = Math.min(earliest, since);
      }
      if (ready.length < r.minCount) return;
      const box = union(ready.map((t) => t.box));
      if (this.suppress(r, box, ts)) {
        // The spot already has its event: remember these tracks so they stay quiet.
        ready.forEach((t) => this.fired.add(`${ri}:${t.id}`));
        return;
      }
      ready.forEach((t) => this.fired.add(`${ri}:${t.id}`));
      verdicts.push({ rule: r, tracks: ready, box, classes: [...new Set(ready.map((t) => t.label))], since: earliest, at: ts });
    });
    for (const k of this.entered.keys()) if (!alive.has(k)) this.entered.delete(k);
    for (const k of this.fired) if (!alive.has(k)) this.fired.delete(k);
    return verdicts;
  }

  /**
   * Is the matter of an event still there? The same track, or a qualifying thing on the
   * same spot (a track lost and found again gets a new id). Unknown without fresh frames.
   */
  presence(type: ViolationType, zone: string, box: Box, trackIds: readonly number[], now: number, freshMs: number): Presence {
    if (now - this.lastTs > freshMs) return 'unknown';
    const r = this.rules.find((x) => x.type === type && x.zone === zone);
    if (!r) return 'absent';
    const here = this.tracks.filter((t) => this.lastTs - t.lastSeen <= this.maxMissedMs && this.qualifies(r, t));
    const matching = here.filter((t) => trackIds.includes(t.id) || iou(t.box, box) > 0.3);
    const need = r.minCount > 1 ? r.minCount : 1;
    return (r.minCount > 1 ? here.length : matching.length) >= need ? 'present' : 'absent';
  }

  zoneRules(): readonly ZoneRule[] {
    return this.rules;
  }
}

export function union(boxes: readonly Box[]): Box {
  let x1 = 1, y1 = 1, x2 = 0, y2 = 0;
  for (const b of boxes) {
    x1 = Math.min(x1, b[0]);
    y1 = Math.min(y1, b[1]);
    x2 = Math.max(x2, b[2]);
    y2 = Math.max(y2, b[3]);
  }
  return [x1, y1, x2, y2];
}
