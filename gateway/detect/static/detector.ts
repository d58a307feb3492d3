/**
 * The static-change detector of one camera: one luma copy per frame, one watcher per
 * zone, and the zones' static regions reported as detections labelled `static_change`,
 * which the rules can name like any model class (garbage, material stacking, floating
 * debris, goods outside a shop, before anyone has a model trained for them).
 */
import type { Box, Pt } from '../../zones/geometry.ts';
import type { Detection, FrameLike } from '../types.ts';
import { LumaFrame } from './luma.ts';
import { ZoneWatcher, type StaticChangeOptions } from './zone.ts';

export const STATIC_CHANGE = 'static_change';

export interface StaticZone {
  id: string;
  polygon: readonly Pt[];
}

export interface StaticChangeSettings extends StaticChangeOptions {
  /** Width of the grayscale copy analysed, pixels. */
  width: number;
  /** Model labels that hide what is behind them (people, vehicles): a candidate behind one keeps its age. */
  occluderClasses?: readonly string[];
}

/** How long what the models saw still says who stands where (they answer a frame or so late). */
const OCCLUDERS_FRESH_MS = 5000;

/** A static-change detection also says which zone and since when (for logs and tests). */
export interface StaticDetection extends Detection {
  zone: string;
  since: number;
}

const NONE: StaticDetection[] = [];
const NO_BOXES: Box[] = [];

export class StaticChangeDetector {
  private readonly luma: LumaFrame;
  private zones: ZoneWatcher[];
  private readonly o: StaticChangeSettings;
  private last: StaticDetection[] = NONE;
  private readonly occluderClasses: ReadonlySet<string>;
  private occluders: Box[] = NO_BOXES;
  private occludersTs = -Infinity;

  constructor(zones: readonly StaticZone[], o: StaticChangeSettings) {
    this.o = o;
    this.luma = new LumaFrame(o.width);
    this.zones = zones.map((z) => new ZoneWatcher(z.id, z.polygon, o));
    this.occluderClasses = new Set(o.occluderClasses ?? []);
  }

  /** What the models saw in the frame of `ts`: where people and vehicles stand, for the next frames. */
  modelsSaw(ts: number, detections: readonly Detection[]): void {
    if (ts < this.occludersTs) return;
    this.occludersTs = ts;
    this.occluders = detections.filter((d) => this.occluderClasses.has(d.label)).map((d) => d.box);
  }

  get zoneIds(): string[] {
    return this.zones.map((z) => z.zone);
  }

  /** True until every zone has its first reference. */
  get learning(): boolean {
    return this.zones.some((z) => z.learning);
  }

  /** Analyses one frame; returns the static regions now present (a reused empty list if none). */
  process(frame: FrameLike, ts: number): StaticDetection[] {
    this.luma.update(frame.data, frame.width, frame.height);
    const occluders = ts - this.occludersTs <= OCCLUDERS_FRESH_MS ? this.occluders : NO_BOXES;
    let out: StaticDetection[] | null = null;
    for (const z of this.zones) {
      for (const r of z.process(this.luma, ts, occluders))
        (out ??= []).push({ label: STATIC_CHANGE, score: r.score, box: r.box, zone: z.zone, since: r.since });
    }
    this.last = out ?? NONE;
    return this.last;
  }

  current(): readonly StaticDetection[] {
    return this.last;
  }

  /**
   * New zones from a reload. A zone whose polygon is unchanged keeps its learnt reference
   * and its candidates; a new or moved one learns its reference from the next frames.
   */
  setZones(zones: readonly StaticZone[]): void {
    const key = (id: string, polygon: readonly Pt[]) => `${id} ${JSON.stringify(polygon)}`;
    const kept = new Map(this.zones.map((w) => [key(w.zone, w.polygon), w]));
    this.zones = zones.map((z) => kept.get(key(z.id, z.polygon)) ?? new ZoneWatcher(z.id, z.polygon, this.o));
    this.last = this.last.filter((d) => this.zones.some((w) => w.zone === d.zone));
  }

  /** Learn every zone's reference again (after the scene really changed, e.g. the camera moved). */
  reset(): void {
    for (const z of this.zones) z.reset();
  }
}
