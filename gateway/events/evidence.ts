/**
 * The evidence picture: the analysed frame with the zone, the boxes of what was seen and
 * a time stamp burnt in, as a JPEG. It is written (and fsynced) before the event row
 * that names it, so a stored event never points at a missing file.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, statfsSync, unlinkSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Box, Pt } from '../zones/geometry.ts';
import { DEFAULT_TIME_ZONE } from '../timezone.ts';

export interface EvidenceInput {
  eventId: string;
  rgb: Buffer;
  width: number;
  height: number;
  polygon: readonly Pt[];
  boxes: { box: Box; label: string }[];
  title: string;
  at: number;
  timeZone?: string;
  /** A full-resolution JPEG of the same moment (snapshot URI or main stream), if any. */
  still?: Buffer | null;
  /** Below this many bytes free no picture is written: pictures give way before the database does. */
  minFreeBytes?: number;
}

export interface Evidence {
  path: string;
  sha256: string;
  bytes: number;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function stamp(at: number, timeZone = DEFAULT_TIME_ZONE): string {
  // sv-SE formats as "2026-11-26 17:00:00": ISO-like, in local time of the site.
  return new Date(at).toLocaleString('sv-SE', { timeZone, hour12: false });
}

export interface LabelRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** About how wide a label is drawn: CJK a full em, the rest a bit over half. */
function textWidth(s: string, fs: number): number {
  let w = 0;
  for (const c of s) w += /[\u2e80-\u9fff\uff00-\uffef]/.test(c) ? fs : 0.62 * fs;
  return w;
}

const overlaps = (a: LabelRect, b: LabelRect) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/**
 * Where each box's label goes, in pixels: above its box if there is room, else inside its
 * top, below it, inside its bottom; a place another label (or the header bar, `top`
 * pixels high) already took is passed over, and when all four are taken the label slides
 * down from above its box until it is free. Boxes side by side (cars in a row) would
 * otherwise stack their labels into one unreadable smear.
 */
export function layoutLabels(boxes: readonly { box: Box; label: string }[], W: number, H: number, fs: number, top = 0): LabelRect[] {
  const placed: LabelRect[] = [];
  const lh = fs + 4;
  for (const { box, label } of boxes) {
    const w = Math.min(W, textWidth(label, fs) + 6);
    const x = Math.max(0, Math.min(W - w, box[0] * W));
    const [y1, y2] = [box[1] * H, box[3] * H];
    const fits = (r: LabelRect) => r.y >= top && r.y + r.h <= H && !placed.some((p) => overlaps(p, r));
    const at = (y: number): LabelRect => ({ x, y, w, h: lh });
    let r = [at(y1 - lh), at(y1), at(y2), at(y2 - lh)].find(fits);
    for (let y = Math.max(top, y1 - lh); !r && y + lh <= H; y += 2) if (fits(at(y))) r = at(y);
    r ??= at(Math.max(top, Math.min(H - lh, y1)));
    placed.push(r);
  }
  return placed;
}

export function overlaySvg(e: Omit<EvidenceInput, 'rgb' | 'eventId' | 'still'>): string {
  const { width: W, height: H } = e;
  const fs = Math.max(11, Math.round(H / 22));
  const font = 'font-family="DejaVu Sans, WenQuanYi Micro Hei, sans-serif"';
  const poly = e.polygon.map(([x, y]) => `${(x * W).toFixed(1)},${(y * H).toFixed(1)}`).join(' ');
  const labels = layoutLabels(e.boxes, W, H, fs, fs + 8);
  const rects = e.boxes
    .map(({ box: [x1, y1, x2, y2] }) => {
      const [x, y, w, h] = [x1 * W, y1 * H, (x2 - x1) * W, (y2 - y1) * H].map((v) => v.toFixed(1));
      return `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="#ff3b30" stroke-width="2"/>`;
    })
    .join('');
  // Labels after every box, so no box line crosses a label; white on a dark plate reads on
  // any background.
  const tags = e.boxes
    .map(({ label }, i) => {
      const r = labels[i];
      return (
        `<rect x="${r.x.toFixed(1)}" y="${r.y.toFixed(1)}" width="${r.w.toFixed(1)}" height="${r.h}" fill="#000" fill-opacity="0.7" stroke="#ff3b30" stroke-width="1"/>` +
        `<text x="${(r.x + 3).toFixed(1)}" y="${(r.y + fs).toFixed(1)}" ${font} font-size="${fs}" fill="#fff">${esc(label)}</text>`
      );
    })
    .join('');
  const line = `${stamp(e.at, e.timeZone)}  ${e.title}`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">` +
    `<polygon points="${poly}" fill="#ffcc00" fill-opacity="0.12" stroke="#ffcc00" stroke-width="2"/>${rects}${tags}` +
    `<rect x="0" y="0" width="${W}" height="${fs + 8}" fill="#000" fill-opacity="0.55"/>` +
    `<text x="4" y="${fs + 2}" ${font} font-size="${fs}" fill="#fff">${esc(line)}</text></svg>`
  );
}

/** Draws the overlay on the full-resolution still when there is one, else on the analysed frame. */
async function annotate(e: EvidenceInput): Promise<Buffer> {
  if (e.still) {
    try {
      const img = sharp(e.still).rotate();
      const { width, height } = await img.metadata();
      if (width && height)
        return await img
          .composite([{ input: Buffer.from(overlaySvg({ ...e, width, height })) }])
          .jpeg({ quality: 85 })
          .toBuffer();
    } catch {
      // A broken still must not cost the evidence: fall back to the analysed frame.
    }
  }
  return sharp(e.rgb, { raw: { width: e.width, height: e.height, channels: 3 } })
    .composite([{ input: Buffer.from(overlaySvg(e)) }])
    .jpeg({ quality: 85, mozjpeg: false })
    .toBuffer();
}

/**
 * Written whole or not at all: a temp file, every byte checked, fsynced, then renamed (and
 * the folder fsynced), so a full disk never leaves a cut picture under its final name.
 * The writes and the fsync are asynchronous: on a busy disk an fsync takes hundreds of
 * milliseconds, and the warning that has just started must not stall behind it.
 */
export async function writeEvidence(dir: string, e: EvidenceInput): Promise<Evidence> {
  const jpeg = await annotate(e);
  const day = stamp(e.at, e.timeZone).slice(0, 10);
  const folder = join(dir, day);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  if (e.minFreeBytes) {
    const s = statfsSync(folder);
    const free = s.bavail * s.bsize;
    if (free - jpeg.length < e.minFreeBytes)
      throw Object.assign(
        new Error(
          `evidence not written: ${(free / 1e6).toFixed(1)} MB free in ${dir}, below gateway.evidence_min_free_mb (${(e.minFreeBytes / 1e6).toFixed(0)} MB)`,
        ),
        { code: 'ENOSPC' },
      );
  }
  const path = join(folder, `${e.eventId}.jpg`);
  const tmp = `${path}.tmp`;
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      for (let done = 0; done < jpeg.length; ) {
        const { bytesWritten: n } = await fh.write(jpeg, done, jpeg.length - done);
        if (n <= 0) throw new Error(`evidence ${tmp}: write returned ${n} at byte ${done} of ${jpeg.length}`);
        done += n;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(folder);
  return { path, sha256: createHash('sha256').update(jpeg).digest('hex'), bytes: jpeg.length };
}

/** Makes a rename durable; a file system that cannot fsync a folder is let be. */
async function syncDir(folder: string): Promise<void> {
  try {
    const fh = await open(folder, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Not every file system supports it; the rename itself is still atomic.
  }
}

/** Removes temp files a crash or a full disk left in the evidence folders; returns how many. */
export function cleanEvidenceTemp(dir: string): number {
  let n = 0;
  let days: string[];
  try {
    days = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const day of days) {
    let files: string[];
    try {
      files = readdirSync(join(dir, day));
    } catch {
      continue;
    }
    for (const f of files)
      if (f.endsWith('.tmp')) {
        unlinkSync(join(dir, day, f));
        n++;
      }
  }
  return n;
}
