/**
 * Test media made by real ffmpeg: a synthetic camera picture (lavfi pattern + a box that
 * moves, so trackers and motion see change) encoded like an IP camera would: fixed GOP, no
 * scene-cut key frames, no B-frames unless asked. Files are cached by their parameters in
 * $GW_TEST_MEDIA or os.tmpdir()/gw-test-media, so reruns and parallel test files reuse them.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ClipOptions {
  codec: 'h264' | 'h265';
  width?: number;
  height?: number;
  fps?: number;
  /** Key-frame interval in seconds (cameras usually use 1-4 s). */
  gopSeconds?: number;
  /** Length of the file; the RTSP peer loops it forever. */
  seconds?: number;
  /** Any lavfi video source name: testsrc2 (default), testsrc, smptehdbars, mandelbrot... */
  pattern?: string;
  /** mp4 (default), mkv, or annexb (raw .h264/.h265 elementary stream). */
  container?: 'mp4' | 'mkv' | 'annexb';
  /** 0 (default) like most cameras; >0 exercises PTS != DTS. */
  bframes?: number;
  /** Target bitrate; by default quality-based (CRF), roughly 0.5-1 Mbit/s at 640x360. */
  kbps?: number;
}

export function mediaDir(): string {
  return process.env.GW_TEST_MEDIA ?? join(tmpdir(), 'gw-test-media');
}

/** Path of a clip with these parameters, generating it once. */
export async function makeClip(opts: ClipOptions): Promise<string> {
  const o: Required<ClipOptions> = {
    width: 640,
    height: 360,
    fps: 25,
    gopSeconds: 2,
    seconds: 10,
    pattern: 'testsrc2',
    container: 'mp4',
    bframes: 0,
    kbps: 0,
    ...opts,
  };
  const ext = o.container === 'annexb' ? o.codec : o.container;
  const key = createHash('sha1').update(JSON.stringify(o)).digest('hex').slice(0, 10);
  const name = `${o.codec}-${o.width}x${o.height}-${o.fps}fps-gop${o.gopSeconds}-${o.seconds}s-${key}.${ext}`;
  const dir = mediaDir();
  const file = join(dir, name);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });

  const gop = Math.max(1, Math.round(o.fps * o.gopSeconds));
  const size = `${o.width}x${o.height}`;
  const box = `${Math.round(o.width / 8)}x${Math.round(o.height / 6)}`;
  const graph =
    `${o.pattern}=size=${size}:rate=${o.fps},format=yuv420p[bg];` +
    `color=c=red:size=${box}:rate=${o.fps}[box];` +
    `[bg][box]overlay=x='mod(t*${Math.round(o.width / 5)},W)':y='H/2+H/5*sin(t*2)':shortest=1`;
  const rate = o.kbps > 0 ? ['-b:v', `${o.kbps}k`, '-maxrate', `${o.kbps}k`, '-bufsize', `${o.kbps * 2}k`] : [];
  const enc =
    o.codec === 'h264'
      ? [
          '-c:v',
          'libx264',
          '-preset',
          'veryfast',
          '-profile:v',
          o.bframes ? 'high' : 'main',
          '-g',
          `${gop}`,
          '-keyint_min',
          `${gop}`,
          '-sc_threshold',
          '0',
          '-bf',
          `${o.bframes}`,
        ]
      : [
          '-c:v',
          'libx265',
          '-preset',
          'ultrafast',
          '-x265-params',
          `keyint=${gop}:min-keyint=${gop}:scenecut=0:bframes=${o.bframes}:log-level=error`,
        ];
  // Explicit muxer: the temporary name below has no telling extension.
  const muxer = { mp4: 'mp4', mkv: 'matroska', annexb: o.codec === 'h264' ? 'h264' : 'hevc' }[o.container];
  // Write under a unique name and rename, so concurrent callers never see half a file.
  const tmp = `${file}.${process.pid}.${Date.now()}.part`;
  try {
    await run(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-nostdin',
        '-y',
        '-f',
        'lavfi',
        '-i',
        graph,
        '-t',
        `${o.seconds}`,
        ...enc,
        ...rate,
        '-pix_fmt',
        'yuv420p',
        '-an',
        '-f',
        muxer,
        tmp,
      ],
      { timeout: 120_000 },
    );
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    const e = err as Error & { stderr?: string };
    throw new Error(`makeClip(${name}) failed: ${e.stderr?.trim() || e.message}`);
  }
  return file;
}
