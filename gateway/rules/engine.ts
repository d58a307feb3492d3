/**
 * Evaluates one camera's zone rules over its tracks, frame by frame. A rule fires a
 * verdict when enough qualifying things have been in its zone (standing still, for the
 * static types; with a person near them, for the compound ones) for the dwell time.
 *
 * One thing gives one event: a track that fired stays quiet while it stays, and does not
 * count for the zone's other rules either (a cart is a mobile vendor or a stall, not
 * both). Parked vehicles and carts are each their own matter, even side by side: one
 * verdict each, with its own box. For the cluster types (stalls, piles, smoke) a thing
 * beside one that fired is part of the same matter, and things ready together are one
 * verdict; so are groups counted together (non-motor parking's bicycles). A spot that
 * already has an event (asked of the event stage: open, or closed within the cooldown)
 * holds the verdict back; it is asked again every RETRY_MS while the thing stays, so a
 * thing still there when the cooldown ends is a new event.
 */
import { boxArea, iou, type Box } from '../zones/geometry.ts';
import { inArea, type Area } from './anchor.ts';
import type { Track } from '../track/tracker.ts';
import type { ZoneRule } from './zone-rules.ts';
import type { ViolationType } from './catalogue.ts';

export interface Verdict {
  rule: ZoneRule;
  /** The evidence, then the people at it (compound rules). */
  tracks: Track[];
  /** The union of the evidence's boxes: where the matter is. */
  box: Box;
  classes: string[];
  /** When the condition started holding. */
  since: number;
  at: number;
}

export type Presence = 'present' | 'absent' | 'unknown';

/** Asked before firing: is there already an open or cooling-down event at this spot? */
export type Suppressor = (rule: ZoneRule, box: Box, ts: number) => boolean;

/** How often a held-back verdict asks the event stage again. */
export const RETRY_MS = 15_000;
const PERSON = 'person';

/** The gap between two boxes (0 when they touch or overlap). */
export function boxGap(a: Box, b: Box): number {
  const dx = Math.max(0, b[0] - a[2], a[0] - b[2]);
  const dy = Math.max(0, b[1] - a[3], a[1] - b[3]);
  return Math.hypot(dx, dy);
}

/**
 * A person is at a thing when the gap between their boxes is at most `within` times the
 * thing's larger side, and the person stands no higher in the picture than the thing's
 * middle: someone far behind it (smaller, higher up) only looks close in the picture.
 */
export function isNear(thing: Box, person: Box, within: number): boolean {
  if (person[3] < (thing[1] + thing[3]) / 2) return false;
  return boxGap(thing, person) <= within * side(thing);
}

const side = (b: Box) => Math.max(b[2] - b[0], b[3] - b[1]);

/** Two things within one size of each other (the larger's). */
export function beside(a: Box, b: Box): boolean {
  return boxGap(a, b) <= Math.max(side(a), side(b));
}

interface Ready {
  track: Track;
  since: number;
  people: Track[];
}

export class RuleEngine {
  private readonly rules: ZoneRule[];
  private readonly suppress: Suppressor;
  /** A track's lifetime through missed detections: follows the tracker's (slower frames, longer). */
  private readonly lifetimeMs: () => number;
  /** (rule index, track id) → when the track entered the zone. */
  private readonly entered = new Map<string, number>();
  /** (rule index, track id) → when its dwell completes, as of the last frame evaluated. */
  private readonly dueAt = new Map<string, number>();
  /** (rule index, track id) → since when a person has been near it (compound rules). */
  private readonly attended = new Map<string, number>();
  /** (rule index, track id) → held back by the event stage; not asked again before then. */
  private readonly retryAt = new Map<string, number>();
  /** (zone, track id) pairs that already fired. */
  private readonly fired = new Set<string>();
  private tracks: readonly Track[] = [];
  private lastTs = 0;
  /** Each rule's zone as seen by people's feet (compound rules). */
  private readonly footing = new Map<ZoneRule, Area>();

  /** What the wall clock reads for a frame time: schedules are times of day (frames may run on monotonic time). */
  private readonly wallOf: (ts: number) => number;

  /** `maxMissed`: seconds, or a function giving the current lifetime in ms (the tracker's). */
  constructor(rules: ZoneRule[], suppress: Suppressor, maxMissed: number | (() => number), wallOf: (ts: number) => number = (ts) => ts) {
    this.rules = rules;
    this.wallOf = wallOf;
    for (const r of rules) this.footing.set(r, { polygon: r.polygon, mask: r.mask, anchor: 'foot' });
    this.suppress = suppress;
    this.lifetimeMs = typeof maxMissed === 'number' ? () => maxMissed * 1000 : maxMissed;
  }

  /** The people within reach of a thing (compound rules). */
  private peopleNear(r: ZoneRule, t: Track, people: readonly Track[]): Track[] {
    return r.personWithin === null ? [] : people.filter((p) => p !== t && isNear(t.box, p.box, r.personWithin!));
  }

  /**
   * A thing of the rule's classes, large enough, in the zone: by its anchor, or (compound
   * rules) by the feet of the people at it: a stall's canopy hangs above the pavement its
   * vendor stands on.
   */
  private qualifies(r: ZoneRule, t: Track, near: readonly Track[]): boolean {
    if (!r.classes.has(t.label) || boxArea(t.box) < r.minArea) return false;
    return inArea(r, t.box) || near.some((p) => inArea(this.footing.get(r)!, p.box));
  }

  /** Next to a thing of the same kind that already fired here: part of its matter. */
  private besideReported(r: ZoneRule, t: Track, tracks: readonly Track[]): boolean {
    return tracks.some((f) => f !== t && r.classes.has(f.label) && this.fired.has(`${r.zone}:${f.id}`) && beside(f.box, t.box));
  }

  private people(r: ZoneRule, tracks: readonly Track[], ts: number): Track[] {
    if (r.personWithin === null) return [];
    const lifetime = this.lifetimeMs();
    return tracks.filter((t) => t.label === PERSON && ts - t.lastSeen <= lifetime);
  }

  /** One matter's verdict, unless the event stage holds its spot (then asked again later). */
  private verdict(r: ZoneRule, ri: number, ready: readonly Ready[], ts: number): Verdict | null {
    const box = union(ready.map((x) => x.track.box));
    if (this.suppress(r, box, ts)) {
      // The spot has its event: ask again later, the thing may outlast the cooldown.
      for (const x of ready) this.retryAt.set(`${ri}:${x.track.id}`, ts + RETRY_MS);
      return null;
    }
    for (const x of ready) this.fired.add(`${r.zone}:${x.track.id}`);
    const evidence = ready.map((x) => x.track);
    const helpers = [...new Set(ready.flatMap((x) => x.people))].filter((p) => p.visible || ts - p.lastSeen <= this.lifetimeMs());
    const all = [...evidence, ...helpers];
    return {
      rule: r,
      tracks: all,
      box,
      classes: [...new Set(all.map((t) => t.label))],
      since: Math.min(...ready.map((x) => x.since)),
      at: ts,
    };
  }

  evaluate(tracks: readonly Track[], ts: number): Verdict[] {
    this.tracks = tracks;
    this.lastTs = ts;
    const verdicts: Verdict[] = [];
    const alive = new Set<string>();
    const aliveInZone = new Set<string>();
    this.rules.forEach((r, ri) => {
      // Off-schedule: nothing counts, and dwell starts afresh when the rule runs again.
      if (!r.schedule.isActive(this.wallOf(ts))) return;
      const people = this.people(r, tracks, ts);
      const ready: Ready[] = [];
      for (const t of tracks) {
        const near = this.peopleNear(r, t, people);
        if (!this.qualifies(r, t, near)) continue;
        const key = `${ri}:${t.id}`;
        alive.add(key);
        aliveInZone.add(`${r.zone}:${t.id}`);
        // A thing first seen here counts from its first sighting; a static-change region's
        // detection may date it back to when the change appeared.
        if (!this.entered.has(key)) this.entered.set(key, t.hits === 1 ? t.firstSeen : ts);
        let since = r.stationary ? Math.max(this.entered.get(key)!, t.stillSince) : this.entered.get(key)!;
        if (r.personWithin !== null) {
          if (!near.length) {
            this.attended.delete(key);
            continue;
          }
          if (!this.attended.has(key)) this.attended.set(key, ts);
          since = Math.max(since, this.attended.get(key)!);
        }
        // A thing the detector missed this frame is due now: a still picture says nothing
        // about a track the tracker is about to let go.
        this.dueAt.set(key, t.visible ? since + r.dwellS * 1000 : Number.NEGATIVE_INFINITY);
        // Only a thing seen in this very frame can fire: a track coasting through missed
        // detections keeps its place, but its last box may be somewhere it has left.
        if (this.fired.has(`${r.zone}:${t.id}`) || !t.visible || (ts - since) / 1000 < r.dwellS) continue;
        if ((this.retryAt.get(key) ?? 0) > ts) continue;
        if (r.cluster && this.besideReported(r, t, tracks)) {
          this.fired.add(`${r.zone}:${t.id}`);
          continue;
        }
        ready.push({ track: t, since, people: near });
      }
      if (ready.length < r.minCount) return;
      // A parked car or a cart is its own matter (its own plate, its own notice): each gets
      // its own verdict. A cluster type, or a group counted together (bicycles), is one
      // matter for the things ready together in the zone.
      const matters = r.cluster || r.minCount > 1 ? [ready] : ready.map((x) => [x]);
      for (const m of matters) {
        const v = this.verdict(r, ri, m, ts);
        if (v) verdicts.push(v);
      }
    });
    for (const m of [this.entered, this.attended, this.retryAt, this.dueAt]) for (const k of m.keys()) if (!alive.has(k)) m.delete(k);
    for (const k of this.fired) if (!aliveInZone.has(k)) this.fired.delete(k);
    return verdicts;
  }

  /**
   * Is anything on its way to a verdict: a thing qualifying in a zone that has not fired
   * and whose dwell is running, with its person for compound rules? The still gate skips inference only when nothing is: the next frames decide
   * about a candidate, so they must be seen.
   */
  hasCandidates(): boolean {
    return this.candidatesDueAt() !== null;
  }

  /**
   * When the first candidate's dwell completes (null: no candidate). Until then the next
   * frames can only confirm what the last analysis saw: on a still picture the still gate
   * may skip them, and the frame at or after this time is inferred, so a verdict comes on
   * the same frame as without the gate, from a real detection.
   */
  candidatesDueAt(): number | null {
    let first: number | null = null;
    for (const key of this.entered.keys()) {
      const at = key.indexOf(':');
      const r = this.rules[Number(key.slice(0, at))];
      if (!r || this.fired.has(`${r.zone}:${key.slice(at + 1)}`)) continue;
      // A thing waiting for its person: the person arriving changes the picture.
      if (r.personWithin !== null && !this.attended.has(key)) continue;
      // Held back by the event stage (its spot has an event): it waits on the cooldown, not
      // on frames; a frame at least every still_max_s asks again.
      if (this.retryAt.has(key)) continue;
      const due = this.dueAt.get(key) ?? Number.NEGATIVE_INFINITY;
      if (first === null || due < first) first = due;
    }
    return first;
  }

  /**
   * Is the matter of an event still there? The same track, or a qualifying thing on the
   * same spot (a track lost and found again gets a new id). Unknown without fresh frames.
   */
  presence(type: ViolationType, zone: string, box: Box, trackIds: readonly number[], now: number, freshMs: number): Presence {
    if (now - this.lastTs > freshMs) return 'unknown';
    const r = this.rules.find((x) => x.type === type && x.zone === zone);
    if (!r) return 'absent';
    const people = this.people(r, this.tracks, this.lastTs);
    const here = this.tracks.filter(
      (t) => this.lastTs - t.lastSeen <= this.lifetimeMs() && this.qualifies(r, t, this.peopleNear(r, t, people)),
    );
    // Groups (bicycles) count anywhere in the zone, and so do things that move about (a
    // person in a river danger zone, smoke); a thing that stands still must be on its spot.
    if (r.minCount > 1 || !r.stationary) return here.length >= r.minCount ? 'present' : 'absent';
    return here.some((t) => trackIds.includes(t.id) || iou(t.box, box) > 0.3) ? 'present' : 'absent';
  }

  zoneRules(): readonly ZoneRule[] {
    return this.rules;
  }
}

export function union(boxes: readonly Box[]): Box {
  let x1 = 1,
    y1 = 1,
    x2 = 0,
    y2 = 0;
  for (const b of boxes) {
    x1 = Math.min(x1, b[0]);
    y1 = Math.min(y1, b[1]);
    x2 = Math.max(x2, b[2]);
    y2 = Math.max(y2, b[3]);
  }
  return [x1, y1, x2, y2];
}
