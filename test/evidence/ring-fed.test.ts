/**
 * The clip ring fed by the camera's in-process reader (`decoder: node-av`, no main stream):
 * the reader writes the ring's MPEG-TS segments from the packets it already reads, so the
 * camera needs no second connection and no ffmpeg. The segments must be what ffmpeg's
 * segment muxer gives: each starts on a key frame, about segment_s long, their times run on
 * across the file's loop, the names wrap, and a clip cut from them plays as an MP4 of the
 * right length. A directory that cannot be written is reported and retried, and the camera's
 * frames go on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import sharp from 'sharp';
import { havePeers } from '../peers/require.ts';
import { makeClip } from '../peers/media.ts';
import { RTSP_PEERS, startRtspServer } from '../peers/rtsp.ts';
import { tempDir } from '../helpers/gateway.ts';
import { ClipRing } from '../../gateway/evidence/ring.ts';
import { NodeAvSource, loadNodeAv } from '../../devices/ffmpeg/node-av.ts';
import type { SegmentTarget } from '../../devices/ffmpeg/segments.ts';

const haveNodeAv = await loadNodeAv().then(
  () => true,
  () => false,
);
if (process.env.CI === 'true' && !haveNodeAv) throw new Error('node-av does not load (npm install node-av)');
const ok = haveNodeAv && havePeers('ffmpeg', 'ffprobe');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.map((s) => s()));
  stops = [];
});

/** pts_time of every video packet of a file, and which are key frames. */
function probe(file: string): { t: number; key: boolean }[] {
  const out = execFileSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file],
    {
      encoding: 'utf8',
    },
  );
  return out
    .trim()
    .split('\n')
    .filter((l) => l.includes(','))
    .map((l) => {
      const [t, flags] = l.split(',');
      return { t: Number(t), key: flags.startsWith('K') };
    });
}

function reader(clip: string, ring: () => SegmentTarget | null): NodeAvSource {
  const src = new NodeAvSource('cam-1', { url: clip, width: 416, height: 234, fit: 'fit' }, undefined, ring);
  src.start();
  stops.push(() => src.stop());
  return src;
}

describe.runIf(ok)('the clip ring written by the in-process reader', () => {
  it('writes key-frame-aligned segments that run on across the loop, wrap, and cut into a playable clip', async () => {
    // 6 s looped: 14 s of running crosses the loop twice; a key frame every second.
    const clip = await makeClip({ codec: 'h264', seconds: 6, width: 320, height: 180, fps: 25, gopSeconds: 1 });
    const ring = new ClipRing({
      camera: 'cam-1',
      url: clip,
      transport: 'tcp',
      dir: tempDir('gw-ring-fed-'),
      segmentS: 2,
      keepS: 6,
      log: pino({ level: 'silent' }),
      fed: true,
    });
    expect(ring.target()).toBeNull(); // not started: the reader writes nothing yet
    ring.start();
    stops.push(() => ring.stop());
    expect(ring.pid).toBeUndefined(); // no ffmpeg of its own
    let frames = 0;
    reader(clip, () => ring.target()).on('frame', () => frames++);
    await sleep(14_000);

    const segs = ring.segments();
    // keep_s 6 / segment_s 2 + 2: five names, wrapped (seven segments were cut).
    expect(segs.length).toBe(5);
    expect(segs.map((s) => s.path.slice(-10)).sort()).toEqual(['seg0000.ts', 'seg0001.ts', 'seg0002.ts', 'seg0003.ts', 'seg0004.ts']);
    expect(frames).toBeGreaterThan(5);
    // Every closed segment: starts on a key frame, 2 s of video (50 packets), times rising.
    let last = -1;
    for (const s of segs.slice(0, -1)) {
      const p = probe(s.path);
      expect(p[0].key, s.path).toBe(true);
      expect(p.length, s.path).toBe(50);
      expect(p[0].t, s.path).toBeGreaterThan(last);
      for (let i = 1; i < p.length; i++) expect(p[i].t).toBeGreaterThan(p[i - 1].t);
      last = p.at(-1)!.t;
      // By write time about 2 s too (a busy machine that holds the reader back stretches it).
      expect(s.end - s.start).toBeGreaterThan(1500);
      expect(s.end - s.start).toBeLessThan(4000);
    }
    // A clip over the last 5 s written (a busy machine may have held the reader back for a
    // moment): an MP4 of whole segments covering them, running past the file's loop.
    const out = join(tempDir('gw-ring-fed-clip-'), 'clip.mp4');
    const newest = ring.segments().at(-1)!.end;
    const cut = await ring.cut(newest - 5000, newest, out);
    expect(cut.segments).toBeGreaterThanOrEqual(3);
    expect(cut.start).toBeLessThanOrEqual(newest - 5000);
    expect(cut.end).toBeGreaterThanOrEqual(newest);
    const dur = Number(
      execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', out], { encoding: 'utf8' }),
    );
    // Whole segments, nothing lost or doubled: 2 s each, the newest still being written.
    // (Their spans come from write times, which a busy machine stretches: not compared.)
    expect(dur).toBeGreaterThan(2 * (cut.segments - 1) - 0.2);
    expect(dur).toBeLessThan(2 * cut.segments + 0.2);
    const still = await sharp(await ring.latestStill()).metadata();
    expect([still.format, still.width, still.height]).toEqual(['jpeg', 320, 180]);
  }, 60_000);

  it('a directory it cannot write is reported and retried; frames go on', async () => {
    const clip = await makeClip({ codec: 'h264', seconds: 6, width: 320, height: 180, fps: 25, gopSeconds: 1 });
    const base = tempDir('gw-ring-fed-bad-');
    const dir = join(base, 'ring');
    // A file in the directory's place fails even for root (who writes anywhere else).
    execFileSync('touch', [dir]);
    const errors: Error[] = [];
    let frames = 0;
    reader(clip, () => ({ dir, segmentS: 2, wrap: 4, onError: (e) => errors.push(e) })).on('frame', () => frames++);
    await sleep(3000);
    expect(errors.length).toBe(1); // tried once, then waits 10 s before the next try
    expect(errors[0].message).toMatch(/EEXIST|ENOTDIR|not a directory|exists/i);
    expect(frames).toBeGreaterThanOrEqual(2);
    // The disk comes back: the next try (10 s on) writes segments.
    rmSync(dir);
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    await sleep(10_500);
    expect(existsSync(join(dir, 'seg0000.ts'))).toBe(true);
  }, 40_000);
});

describe.runIf(ok && havePeers(...RTSP_PEERS))('the clip ring fed from an RTSP stream', () => {
  it('starts at the first key frame with a timestamp: the GStreamer server sends its first without one', async () => {
    // B-frames, as a camera's main profile has them.
    const clip = await makeClip({ codec: 'h264', seconds: 6, width: 320, height: 180, fps: 25, gopSeconds: 1, bframes: 2 });
    const server = await startRtspServer({ mounts: { '/cam1': clip }, transport: 'tcp' });
    stops.push(() => server.stop());
    const errors: Error[] = [];
    const dir = tempDir('gw-ring-fed-rtsp-');
    const target: SegmentTarget = { dir, segmentS: 1, wrap: 10, onError: (e) => errors.push(e) };
    const src = new NodeAvSource('cam-1', { url: server.url('/cam1'), width: 416, height: 234, fit: 'fit' }, undefined, () => target);
    src.start();
    stops.push(() => src.stop());
    await sleep(5000);
    expect(errors.map((e) => e.message)).toEqual([]);
    const written = readdirSync(dir).filter((n) => n.endsWith('.ts'));
    expect(written.length).toBeGreaterThanOrEqual(2);
    const p = probe(join(dir, 'seg0000.ts'));
    expect(p[0].key).toBe(true);
    expect(p.length).toBeGreaterThan(10);
  }, 30_000);
});
