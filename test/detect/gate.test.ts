/**
 * The still gate on its own: a textured street-sized frame (416×234, as the capture hands
 * YOLOX-Nano its letterboxed picture) with a zone on its lower half. The picture must
 * count as still through light drift and per-pixel noise, and as changed when a car-sized
 * thing appears in the zone; a change outside the zone, or in its mask, does not count;
 * and however still the picture, it is analysed again after `maxStillS`.
 */
import { describe, expect, it } from 'vitest';
import { StillGate, watchedCells } from '../../gateway/detect/gate.ts';
import type { Pt } from '../../gateway/zones/geometry.ts';

const W = 416;
const H = 234;
const ZONE: Pt[] = [
  [0.1, 0.5],
  [0.9, 0.5],
  [0.9, 0.95],
  [0.1, 0.95],
];
const MASK: Pt[] = [
  [0.1, 0.5],
  [0.3, 0.5],
  [0.3, 0.95],
  [0.1, 0.95],
];

/** A deterministic pseudo-random sequence (the frames must be the same on every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A street-like picture: smooth gradients and blocks of texture, values 30..220. */
function scene(): Uint8Array {
  const r = rng(7);
  const blocks = Array.from({ length: 26 * 15 }, () => 40 + 150 * r());
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const v = 0.6 * blocks[Math.floor(y / 16) * 26 + Math.floor(x / 16)] + 0.4 * (60 + (120 * y) / H);
      const p = (y * W + x) * 3;
      out[p] = v;
      out[p + 1] = v * 0.95;
      out[p + 2] = v * 0.9;
    }
  return out;
}

const frame = (data: Uint8Array) => ({ data, width: W, height: H });

function map(src: Uint8Array, f: (v: number, i: number) => number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(f(src[i], i))));
  return out;
}

/** A dark car-sized box (normalised x, y, w, h), as a parked car is in a 416-px frame. */
function withBox(src: Uint8Array, bx: number, by: number, bw: number, bh: number, grey = 25): Uint8Array {
  const out = src.slice();
  for (let y = Math.round(by * H); y < Math.round((by + bh) * H); y++)
    for (let x = Math.round(bx * W); x < Math.round((bx + bw) * W); x++) out.fill(grey, (y * W + x) * 3, (y * W + x) * 3 + 3);
  return out;
}

/** Sends a frame to inference and has it come back. */
function infer(g: StillGate, f: Uint8Array, ts: number): void {
  g.check(frame(f), ts);
  g.sentNow(ts);
  g.analysed(ts);
}

/** A gate that has analysed `base` at t = -1 s and again at 0 (the picture settled). */
function primed(base: Uint8Array, o: { maxStillS?: number; mask?: boolean } = {}): StillGate {
  const g = new StillGate({ zones: [{ polygon: ZONE, mask: o.mask ? [MASK] : [] }], maxStillS: o.maxStillS ?? 10 });
  expect(g.check(frame(base), -1000).stale).toBe(true); // nothing to compare with yet
  g.sentNow(-1000);
  g.analysed(-1000);
  infer(g, base, 0);
  return g;
}

describe('the still gate', () => {
  const base = scene();

  it('calls the same picture still', () => {
    const g = primed(base);
    const l = g.check(frame(base), 2000);
    expect(l).toMatchObject({ still: true, stale: false, changed: 0 });
  });

  it('fits a drift of light over the whole picture away: brighter, and a gain', () => {
    for (const f of [(v: number) => v + 30, (v: number) => v - 25, (v: number) => v * 1.2, (v: number) => v * 0.8 + 10]) {
      const g = primed(base);
      const l = g.check(frame(map(base, f)), 2000);
      expect(l.changed).toBeLessThan(2);
      expect(l.still).toBe(true);
    }
  });

  it('is not fooled by rain-like noise on every pixel, frame after frame', () => {
    const g = primed(base);
    const r = rng(42);
    for (let i = 1; i <= 10; i++) {
      // ±40 grey levels on every pixel, and streaks: a tenth of the pixels bright.
      const noisy = map(base, (v) => (r() < 0.1 ? 230 : v + (r() - 0.5) * 80));
      const l = g.check(frame(noisy), i * 500);
      expect(l.still, `noisy frame ${i}: ${l.changed} cells changed`).toBe(true);
    }
  });

  it('sees a car-sized thing appear in the zone, even with the light drifting and noise', () => {
    const r = rng(3);
    // A small car far off (a tenth of the picture wide), the light 20 levels up, noise.
    const car = map(withBox(base, 0.55, 0.6, 0.1, 0.08), (v) => v + 20 + (r() - 0.5) * 40);
    const g = primed(base);
    const l = g.check(frame(car), 2000);
    expect(l.still).toBe(false);
    expect(l.changed).toBeGreaterThanOrEqual(2);
    // A thing the same grey as the picture's mean still differs from the texture it covers.
    expect(g.check(frame(withBox(base, 0.4, 0.7, 0.12, 0.1, 128)), 2000).still).toBe(false);
  });

  it('ignores a change outside the zone, and in the zone mask', () => {
    const g = primed(base, { mask: true });
    // A bus across the top of the picture.
    expect(g.check(frame(withBox(base, 0.1, 0.05, 0.6, 0.3)), 2000).still).toBe(true);
    // A bicycle in the marked bay (the mask, clear of its edge to the zone).
    expect(g.check(frame(withBox(base, 0.12, 0.6, 0.08, 0.2)), 2000).still).toBe(true);
    // The same box beyond the mask, in the zone: changed.
    expect(g.check(frame(withBox(base, 0.5, 0.6, 0.08, 0.2)), 2000).still).toBe(false);
  });

  it('is stale after maxStillS since the last frame sent to inference, however still', () => {
    const g = primed(base, { maxStillS: 10 });
    expect(g.check(frame(base), 9_999).stale).toBe(false);
    const l = g.check(frame(base), 10_000);
    expect(l.still).toBe(true);
    expect(l.stale).toBe(true);
    g.sentNow(10_000);
    expect(g.check(frame(base), 12_000)).toMatchObject({ still: true, stale: false });
    // Off: every frame is stale.
    const off = primed(base, { maxStillS: 0 });
    expect(off.enabled).toBe(false);
    expect(off.check(frame(base), 1000).stale).toBe(true);
  });

  it('gives a change a second look before it calls the picture still again', () => {
    const g = primed(base);
    const car = withBox(base, 0.5, 0.6, 0.12, 0.12);
    expect(g.check(frame(car), 2000).still).toBe(false);
    g.sentNow(2000);
    g.analysed(2000);
    // The car stands where it stopped: the same picture, but the change is seen once more.
    const again = g.check(frame(car), 4000);
    expect(again.changed).toBe(0);
    expect(again.still).toBe(false);
    g.sentNow(4000);
    g.analysed(4000);
    expect(g.check(frame(car), 6000).still).toBe(true);
  });

  it('compares with the frame in flight, and with the last analysed one when that frame is lost', () => {
    const g = primed(base);
    const car = withBox(base, 0.5, 0.6, 0.12, 0.12);
    infer(g, car, 2000);
    g.check(frame(car), 4000);
    g.sentNow(4000);
    expect(g.pending).toBe(true);
    // The car is still there: still against the frame in flight, which settled.
    expect(g.check(frame(car), 6000).still).toBe(true);
    // That frame never reached the model: compare with the last analysed one (the car's
    // first frame, not settled yet): another look.
    g.lost(4000);
    expect(g.pending).toBe(false);
    expect(g.check(frame(car), 6000).still).toBe(false);
    // The car leaves while a frame is in flight: changed against that frame.
    g.sentNow(6000);
    expect(g.check(frame(base), 8000).still).toBe(false);
  });

  it('watches the cells a zone touches, with one of margin; a zone smaller than a cell still has cells', () => {
    const all = watchedCells([], 32, 18);
    expect(all.length).toBe(32 * 18);
    const tiny = watchedCells(
      [
        {
          polygon: [
            [0.5, 0.5],
            [0.51, 0.5],
            [0.51, 0.51],
            [0.5, 0.51],
          ],
        },
      ],
      32,
      18,
    );
    expect(tiny.length).toBeGreaterThanOrEqual(9);
    expect(tiny.length).toBeLessThanOrEqual(16);
  });
});
