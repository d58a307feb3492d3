/**
 * A zone laid over the analysis grid: its bounding rectangle, which pixels are inside the
 * polygon, and 4x4 cells over the rectangle (with the extent of each cell's zone pixels,
 * so that boxes built from cells stay inside the zone).
 */
import { pointInPolygon, type Box, type Pt } from '../../zones/geometry.ts';

export const CELL = 4;

export class ZoneGrid {
  /** Analysis frame size. */
  readonly lw: number;
  readonly lh: number;
  /** The zone's bounding rectangle in the analysis frame. */
  readonly x0: number = 0;
  readonly y0: number = 0;
  readonly rw: number = 0;
  readonly rh: number = 0;
  /** Cells per row, and in all. */
  readonly cw: number = 0;
  readonly cells: number = 0;
  /** Per rectangle pixel: 1 inside the polygon. */
  readonly inMask: Uint8Array = new Uint8Array(0);
  readonly maskCount: number = 0;
  /** Per rectangle pixel: its cell. */
  readonly cellOf: Int32Array = new Int32Array(0);
  /** Per cell: min x, min y, max x, max y of its zone pixels (analysis frame), or -1. */
  private readonly extent: Int32Array = new Int32Array(0);

  constructor(polygon: readonly Pt[], lw: number, lh: number) {
    this.lw = lw;
    this.lh = lh;
    const inside = (x: number, y: number) => pointInPolygon((x + 0.5) / lw, (y + 0.5) / lh, polygon);
    let minX = lw,
      minY = lh,
      maxX = -1,
      maxY = -1;
    for (let y = 0; y < lh; y++)
      for (let x = 0; x < lw; x++)
        if (inside(x, y)) {
          minX = Math.min(minX, x);
          maxX = Math.max(maxX, x);
          minY = Math.min(minY, y);
          maxY = Math.max(maxY, y);
        }
    if (maxX < 0) return; // the zone covers no analysis pixel
    this.x0 = minX;
    this.y0 = minY;
    this.rw = maxX - minX + 1;
    this.rh = maxY - minY + 1;
    this.cw = Math.ceil(this.rw / CELL);
    this.cells = this.cw * Math.ceil(this.rh / CELL);
    const n = this.rw * this.rh;
    this.inMask = new Uint8Array(n);
    this.cellOf = new Int32Array(n);
    this.extent = new Int32Array(4 * this.cells).fill(-1);
    const e = this.extent;
    let count = 0;
    for (let y = 0; y < this.rh; y++)
      for (let x = 0; x < this.rw; x++) {
        const i = y * this.rw + x;
        const c = Math.floor(y / CELL) * this.cw + Math.floor(x / CELL);
        this.cellOf[i] = c;
        if (!inside(x + minX, y + minY)) continue;
        this.inMask[i] = 1;
        count++;
        const gx = x + minX,
          gy = y + minY;
        if (e[4 * c] < 0 || gx < e[4 * c]) e[4 * c] = gx;
        if (e[4 * c + 1] < 0 || gy < e[4 * c + 1]) e[4 * c + 1] = gy;
        e[4 * c + 2] = Math.max(e[4 * c + 2], gx);
        e[4 * c + 3] = Math.max(e[4 * c + 3], gy);
      }
    this.maskCount = count;
  }

  /**
   * A cell's zone pixels as a normalised box; the bottom edge runs through the lowest
   * pixels' centres, so the box's foot point (where the rules look) lies in the zone.
   */
  cellBox(cx: number, cy: number): Box {
    const c = cy * this.cw + cx;
    const e = this.extent;
    return [e[4 * c] / this.lw, e[4 * c + 1] / this.lh, (e[4 * c + 2] + 1) / this.lw, (e[4 * c + 3] + 0.5) / this.lh];
  }

  /** Calls `f` with the rectangle index of every pixel of cell `c`. */
  forCell(c: number, f: (i: number) => void): void {
    const cx = (c % this.cw) * CELL,
      cy = Math.floor(c / this.cw) * CELL;
    for (let y = cy; y < Math.min(cy + CELL, this.rh); y++) for (let x = cx; x < Math.min(cx + CELL, this.rw); x++) f(y * this.rw + x);
  }
}
