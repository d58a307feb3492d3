/**
 * Checks on zones the schema cannot express: masks that cross themselves or lie outside
 * their zone, schedules that can never match, two rules of one type in a zone, and rules
 * whose evidence no detector of the camera can ever report. Polygon coordinates outside
 * 0-1 are gathered into one message per polygon that says what went wrong (pixels).
 */
import type { CameraSettings, ScheduleSettings } from './schema.ts';
import type { ConfigIssue } from './issues.ts';
import { pointInPolygon, polygonArea, segmentsIntersect, selfIntersection, type Pt } from '../zones/geometry.ts';
import { CATALOGUE, STATIC_CHANGE } from '../rules/catalogue.ts';
import { clockMinutes } from '../rules/schedule.ts';

type Path = (string | number)[];

/** Classes that only come from model-free detectors, so no model needs to know them. */
const MODEL_FREE = new Set([STATIC_CHANGE]);

function overlaps(a: readonly Pt[], b: readonly Pt[]): boolean {
  if (a.some(([x, y]) => pointInPolygon(x, y, b)) || b.some(([x, y]) => pointInPolygon(x, y, a))) return true;
  for (let i = 0; i < a.length; i++)
    for (let j = 0; j < b.length; j++) if (segmentsIntersect(a[i], a[(i + 1) % a.length], b[j], b[(j + 1) % b.length])) return true;
  return false;
}

function checkSchedule(sc: ScheduleSettings | undefined, at: Path, issues: ConfigIssue[]): void {
  if (!sc) return;
  for (const list of ['active', 'inactive'] as const) {
    sc[list]?.forEach((w, i) => {
      const p = [...at, list, i];
      if (w.days && w.dates)
        issues.push({ path: [...p, 'dates'], message: 'give either days or dates in one window; use two windows for both' });
      if (w.from && w.to && clockMinutes(w.from) === clockMinutes(w.to))
        issues.push({ path: [...p, 'to'], message: `the window ${w.from}-${w.to} is empty; for the whole day leave out from and to` });
    });
  }
}

export interface ZoneCheckContext {
  /** Whether a detector of this camera can report the label (null: the model could not be read; its own issue says why). */
  knows: ((label: string) => boolean) | null;
  /** tracking.max_missed_s */
  maxMissedS: number;
}

export function checkZones(cam: CameraSettings, at: Path, ctx: ZoneCheckContext): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const { knows } = ctx;
  if (cam.zones.length && ctx.maxMissedS < 2 * cam.interval_s)
    issues.push({
      path: [...at, 'interval_s'],
      message: `one frame every ${cam.interval_s} s, but tracking.max_missed_s is ${ctx.maxMissedS} s: a single missed detection would lose every track; set tracking.max_missed_s to at least ${2 * cam.interval_s}`,
    });
  if (cam.clock === 'media' && /^[a-z]+:\/\//i.test(cam.url) && !cam.url.startsWith('file:'))
    issues.push({
      path: [...at, 'clock'],
      message: 'clock: media is for video files (it stamps frames with their time in the video); a live stream needs clock: wall',
    });
  cam.zones.forEach((z, zi) => {
    const zp = [...at, 'zones', zi];
    const zone = z.polygon as Pt[];
    z.mask?.forEach((m, mi) => {
      const poly = m as Pt[];
      const mp = [...zp, 'mask', mi];
      const crossing = selfIntersection(poly);
      if (crossing)
        issues.push({
          path: mp,
          message: `mask polygon crosses itself (edge ${crossing[0] + 1} crosses edge ${crossing[1] + 1}); list the points in order around the area`,
        });
      else if (polygonArea(poly) < 1e-4) issues.push({ path: mp, message: 'mask polygon has (almost) no area' });
      else if (!overlaps(poly, zone)) issues.push({ path: mp, message: `mask lies outside zone "${z.id}": it would ignore nothing` });
    });
    checkSchedule(z.schedule, [...zp, 'schedule'], issues);
    const seen = new Map<string, number>();
    z.rules.forEach((r, ri) => {
      const rp = [...zp, 'rules', ri];
      if (!CATALOGUE[r.type]) return; // the schema has said so
      if (seen.has(r.type))
        issues.push({
          path: [...rp, 'type'],
          message: `zone "${z.id}" already has a ${r.type} rule (rules[${seen.get(r.type)}]); one rule per type and zone, use another zone for other settings`,
        });
      seen.set(r.type, ri);
      checkSchedule(r.schedule, [...rp, 'schedule'], issues);
      // Explicit classes are checked one by one elsewhere; here the defaults of types whose
      // evidence COCO does not have (banner, smoke, ...): such a rule could never fire.
      if (!r.classes && knows) {
        const classes = CATALOGUE[r.type].classes;
        if (!classes.some((c) => knows(c) || MODEL_FREE.has(c)))
          issues.push({
            path: [...rp, 'type'],
            message: `${r.type} needs a detector of ${classes.map((c) => `"${c}"`).join(' or ')}, which the camera's model does not report: add a model that does, or set classes`,
          });
      }
    });
  });
  return issues;
}

const COORD = /^(polygon|mask)$/;

/**
 * The schema reports every coordinate outside 0-1 on its own ("must be <= 1", eight
 * times for a polygon drawn in pixels). This folds them into one message per polygon.
 */
export function foldCoordinateIssues(issues: ConfigIssue[], raw: unknown): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const folded = new Map<string, { path: Path; points: number[] }>();
  for (const i of issues) {
    const p = i.path;
    const k = p.findLastIndex((x) => typeof x === 'string' && COORD.test(x));
    const tail = k >= 0 ? p.slice(k + 1) : [];
    const isCoord = k >= 0 && /^must be [<>]= [01]$/.test(i.message) && tail.length === (p[k] === 'mask' ? 3 : 2);
    if (!isCoord) {
      out.push(i);
      continue;
    }
    const polyPath = p.slice(0, p.length - 2);
    const key = JSON.stringify(polyPath);
    const f = folded.get(key) ?? { path: polyPath, points: [] };
    const pt = Number(p[p.length - 2]);
    if (!f.points.includes(pt)) f.points.push(pt);
    if (!folded.has(key)) {
      folded.set(key, f);
      out.push({ path: polyPath, message: '' });
    }
  }
  for (const f of folded.values()) {
    let poly: unknown = raw;
    for (const x of f.path) poly = (poly as Record<string | number, unknown> | undefined)?.[x];
    const pts = Array.isArray(poly) ? (poly as number[][]) : [];
    const shown = f.points
      .slice(0, 3)
      .map((n) => `point ${n + 1} is ${JSON.stringify(pts[n])}`)
      .join(', ');
    const pixels = f.points.some((n) => (pts[n] ?? []).some((v) => v > 2));
    const hint = pixels ? '; these look like pixels: divide x by the picture width and y by its height' : '';
    const target = out.find((i) => i.message === '' && JSON.stringify(i.path) === JSON.stringify(f.path))!;
    target.message = `coordinates must be fractions of the picture between 0 and 1 (0,0 top-left, 1,1 bottom-right): ${shown}${hint}`;
  }
  return out;
}
