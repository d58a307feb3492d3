/**
 * Groups flagged cells into regions: flagged cells with up to GAP unflagged cells between
 * them are one thing (a pile's plain middle, or a part the colour of the ground, may not
 * differ from the reference even though its edges do).
 */
import type { Box } from '../../zones/geometry.ts';

const GAP = 2;

export interface Region {
  /** Normalised to the frame. */
  box: Box;
  /** Mean share of changed pixels in its cells, 0..1. */
  score: number;
  cells: number;
  /** When its oldest cell started to differ. */
  since: number;
}

export function cellRegions(
  cw: number,
  cells: number,
  flagged: (c: number) => boolean,
  score: (c: number) => number,
  cellBox: (cx: number, cy: number) => Box,
  minArea: number,
  since: (c: number) => number,
  /** A region is kept only if one of its cells passes (all do by default). */
  structured: (c: number) => boolean = () => true,
): Region[] {
  const label = new Int32Array(cells).fill(-1);
  const ch = Math.ceil(cells / cw);
  const out: Region[] = [];
  const stack: number[] = [];
  for (let start = 0; start < cells; start++) {
    if (label[start] >= 0 || !flagged(start)) continue;
    label[start] = out.length;
    stack.push(start);
    let x1 = Infinity,
      y1 = Infinity,
      x2 = -Infinity,
      y2 = -Infinity,
      n = 0,
      sum = 0,
      first = Infinity,
      keep = false;
    while (stack.length) {
      const c = stack.pop()!;
      const cx = c % cw,
        cy = (c - cx) / cw;
      const b = cellBox(cx, cy);
      x1 = Math.min(x1, b[0]);
      y1 = Math.min(y1, b[1]);
      x2 = Math.max(x2, b[2]);
      y2 = Math.max(y2, b[3]);
      n++;
      sum += score(c);
      first = Math.min(first, since(c));
      keep ||= structured(c);
      for (let dy = -GAP - 1; dy <= GAP + 1; dy++)
        for (let dx = -GAP - 1; dx <= GAP + 1; dx++) {
          const nx = cx + dx,
            ny = cy + dy;
          if (nx < 0 || ny < 0 || nx >= cw || ny >= ch) continue;
          const k = ny * cw + nx;
          if (k >= cells || label[k] >= 0 || !flagged(k)) continue;
          label[k] = out.length;
          stack.push(k);
        }
    }
    if (!keep || (x2 - x1) * (y2 - y1) < minArea) continue;
    out.push({ box: [x1, y1, x2, y2], score: Math.min(1, sum / n), cells: n, since: first });
  }
  return out;
}
