/**
 * The evidence picture: the analysed frame with the zone, the boxes of what was seen and
 * a time stamp burnt in, as a JPEG. It is written (and fsynced) before the event row
 * that names it, so a stored event never points at a missing file.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
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

export function overlaySvg(e: Omit<EvidenceInput, 'rgb' | 'eventId' | 'still'>): string {
  const { width: W, height: H } = e;
  const fs = Math.max(11, Math.round(H / 22));
  const poly = e.polygon.map(([x, y]) => `${(x * W).toFixed(1)},${(y * H).toFixed(1)}`).join(' ');
  const boxes = e.boxes
    .map(({ box: [x1, y1, x2, y2], label }) => {
      const x = x1 * W,
        y = y1 * H,
        w = (x2 - x1) * W,
        h = (y2 - y1) * H;
      const ty = y > fs + 2 ? y - 3 : y + h + fs;
      return (
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="none" stroke="#ff3b30" stroke-width="2"/>` +
        `<text x="${(x + 2).toFixed(1)}" y="${ty.toFixed(1)}" font-family="DejaVu Sans, WenQuanYi Micro Hei, sans-serif" font-size="${fs}" fill="#ff3b30" stroke="#000" stroke-width="0.4">${esc(label)}</text>`
      );
    })
    .join('');
  const line = `${stamp(e.at, e.timeZone)}  ${e.title}`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">` +
    `<polygon points="${poly}" fill="#ffcc00" fill-opacity="0.12" stroke="#ffcc00" stroke-width="2"/>${boxes}` +
    `<rect x="0" y="0" width="${W}" height="${fs + 8}" fill="#000" fill-opacity="0.55"/>` +
    `<text x="4" y="${fs + 2}" font-family="DejaVu Sans, WenQuanYi Micro Hei, sans-serif" font-size="${fs}" fill="#fff">${esc(line)}</text></svg>`
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

export async function writeEvidence(dir: string, e: EvidenceInput): Promise<Evidence> {
  const jpeg = await annotate(e);
  const day = stamp(e.at, e.timeZone).slice(0, 10);
  const folder = join(dir, day);
  mkdirSync(folder, { recursive: true });
  const path = join(folder, `${e.eventId}.jpg`);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, jpeg);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return { path, sha256: createHash('sha256').update(jpeg).digest('hex'), bytes: jpeg.length };
}
