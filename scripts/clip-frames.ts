/**
 * The key frames of a scenario clip (for tests and bench-detect), decoded by real ffmpeg
 * as fast as it can (not in real time), scaled like the capture scales them. Each frame's
 * time is its position in the clip, so a 60 s clip is analysed in a second or two.
 */
import { spawn } from 'node:child_process';
import { frameSourceArgs } from '../devices/ffmpeg/frames.ts';
import { PpmParser } from '../devices/ffmpeg/ppm.ts';

export interface ClipFrame {
  /** Milliseconds from the start of the clip. */
  ts: number;
  width: number;
  height: number;
  data: Buffer;
}

export async function clipFrames(
  path: string,
  o: { width: number; height: number; fit?: 'fit' | 'stretch'; gopS?: number },
): Promise<ClipFrame[]> {
  // The capture's own arguments, minus real-time playback and looping.
  const args = frameSourceArgs({ url: path, width: o.width, height: o.height, fit: o.fit ?? 'fit' }).filter(
    (a, i, all) => !(a === '-re' || a === '-stream_loop' || all[i - 1] === '-stream_loop'),
  );
  const frames: ClipFrame[] = [];
  const gop = (o.gopS ?? 1) * 1000;
  await new Promise<void>((ok, fail) => {
    const p = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const parser = new PpmParser({
      begin: (h) => Buffer.allocUnsafe(h.width * h.height * 3),
      end: (h, data) => frames.push({ ts: frames.length * gop, width: h.width, height: h.height, data }),
    });
    p.stdout.on('data', (c: Buffer) => parser.push(c));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', fail);
    p.on('close', (code) => (code === 0 ? ok() : fail(new Error(`ffmpeg ${code}: ${err}`))));
  });
  return frames;
}
