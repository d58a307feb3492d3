/**
 * A camera's clip ring: its own ffmpeg copies the stream's packets (`-c copy`, never
 * decoded or re-encoded) into short MPEG-TS segments that wrap (`-segment_wrap`), so the
 * last `keep_s` seconds are always on disk. When the camera is read in-process (node-av)
 * and the ring keeps the analysed stream, that reader writes the same segments from the
 * packets it already has (`fed`): no second connection, no process. A clip around a moment
 * is the segments that overlap it joined into an MP4, again without re-encoding; it and the
 * ring's still are read in this process with node-av (devices/ffmpeg/ring-read.ts), or by
 * an ffmpeg command where node-av does not load or fails on a file.
 * A segment's wall-clock end is its file's modification time; its start, the previous
 * segment's end. The main stream when the camera has one, else the analysed stream.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FfmpegArgs, preset, redact, withCredentials } from '../../devices/ffmpeg/args.ts';
import { runCommand } from '../../devices/util/launcher.ts';
import { loadNodeAv, type NodeAv } from '../../devices/ffmpeg/node-av-lib.ts';
import { joinSegments, keyFrameJpeg } from '../../devices/ffmpeg/ring-read.ts';
import { spawnTethered } from '../../devices/util/tethered.ts';
import type { Logger } from '../log.ts';
import type { SegmentTarget } from '../../devices/ffmpeg/segments.ts';

export interface RingOptions {
  camera: string;
  url: string;
  username?: string;
  password?: string;
  transport: 'tcp' | 'udp';
  dir: string;
  segmentS: number;
  keepS: number;
  log: Logger;
  /** The camera's own reader writes the segments (see target()); no ffmpeg is started. */
  fed?: boolean;
}

export interface Segment {
  path: string;
  start: number;
  end: number;
}

export function ringArgs(o: Pick<RingOptions, 'url' | 'username' | 'password' | 'transport' | 'dir' | 'segmentS' | 'keepS'>): string[] {
  const rtsp = o.url.startsWith('rtsp');
  const file = !/^[a-z]+:\/\//.test(o.url);
  const wrap = wrapCount(o);
  return new FfmpegArgs()
    .logLevel('error')
    .input(
      withCredentials(o.url, o.username, o.password),
      ...(rtsp ? preset.rtsp(o.transport, 5) : []),
      ...(file ? preset.fileAsCamera() : []),
    )
    .output(
      join(o.dir, 'seg%04d.ts'),
      // Video only: camera audio is often G.711, which MP4 cannot hold, and not evidence here.
      '-map',
      '0:v:0',
      '-c',
      'copy',
      '-f',
      'segment',
      '-segment_time',
      o.segmentS,
      '-segment_format',
      'mpegts',
      '-segment_wrap',
      wrap,
      '-reset_timestamps',
      0,
    )
    .build();
}

/** Segment files before the names wrap: the kept seconds, the one being written and a spare. */
function wrapCount(o: Pick<RingOptions, 'segmentS' | 'keepS'>): number {
  return Math.ceil(o.keepS / o.segmentS) + 2;
}

export class ClipRing {
  private readonly o: RingOptions;
  private proc: ChildProcess | null = null;
  private stopped = false;
  private started = false;
  private restartMs = 1000;
  private timer: NodeJS.Timeout | null = null;
  private lastError = '';
  /** The newest segment's key frame as a JPEG (or on its way), by segment. */
  private still: { key: string; jpeg: Promise<Buffer | null> } | null = null;
  private readonly log: Logger;
  private readonly fedTarget: SegmentTarget;

  constructor(o: RingOptions) {
    this.o = o;
    this.log = o.log.child({ part: 'evidence', camera: o.camera });
    this.fedTarget = {
      dir: o.dir,
      segmentS: o.segmentS,
      wrap: wrapCount(o),
      onError: (err) => this.log.warn({ err, retry_s: 10 }, 'clip ring: a segment could not be written'),
    };
  }

  /** Where the camera's reader writes segments, while a fed ring runs. */
  target(): SegmentTarget | null {
    return this.o.fed && !this.stopped && this.started ? this.fedTarget : null;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  start(): void {
    this.stopped = false;
    rmSync(this.o.dir, { recursive: true, force: true }); // old segments have wrong times
    mkdirSync(this.o.dir, { recursive: true });
    this.started = true;
    if (this.o.fed) this.log.debug('clip ring fed by the camera reader');
    else this.spawn();
  }

  private spawn(): void {
    const p = spawnTethered('ffmpeg', ringArgs(this.o), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = p;
    const started = Date.now();
    p.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.lastError = s.trim().split('\n').at(-1) ?? '';
    });
    p.on('error', (err) => this.log.error({ err }, 'clip ring: ffmpeg could not start'));
    p.on('close', (code) => {
      if (this.proc === p) this.proc = null;
      if (this.stopped) return;
      // Back off like the capture does, so a camera that is down is not hammered.
      if (Date.now() - started > 60_000) this.restartMs = 1000;
      this.log.warn(
        { code, reason: this.lastError.replaceAll(this.o.password ?? '\0', '***'), retry_s: this.restartMs / 1000 },
        'clip ring: ffmpeg stopped; restarting',
      );
      this.timer = setTimeout(() => this.spawn(), this.restartMs);
      this.restartMs = Math.min(60_000, this.restartMs * 2);
    });
    this.log.debug({ url: redact(this.o.url), pid: p.pid }, 'clip ring started');
  }

  /** The segments on disk, oldest first, with their wall-clock span. */
  segments(): Segment[] {
    let names: string[];
    try {
      names = readdirSync(this.o.dir).filter((n) => n.endsWith('.ts'));
    } catch {
      return [];
    }
    const files = names
      .map((n) => {
        const path = join(this.o.dir, n);
        try {
          const st = statSync(path);
          return { path, end: st.mtimeMs, size: st.size };
        } catch {
          return null;
        }
      })
      .filter((f): f is { path: string; end: number; size: number } => f !== null && f.size > 0)
      .sort((a, b) => a.end - b.end);
    return files.map((f, i) => ({ path: f.path, end: f.end, start: i ? files[i - 1].end : f.end - this.o.segmentS * 1000 }));
  }

  /** Writes the segments overlapping [from, to] into `out` (MP4, copied). Returns the span it covers. */
  async cut(from: number, to: number, out: string): Promise<{ start: number; end: number; segments: number }> {
    const segs = this.segments().filter((s) => s.end > from && s.start < to);
    if (!segs.length)
      throw new Error(
        `clip ring of ${this.o.camera} holds nothing between ${new Date(from).toISOString()} and ${new Date(to).toISOString()}`,
      );
    const paths = segs.map((s) => s.path);
    await this.inProcess('clip', (av) => joinSegments(av, paths, out)).catch(() =>
      run(
        new FfmpegArgs()
          .logLevel('error')
          .global('-y')
          .input(`concat:${paths.join('|')}`)
          .output(out, '-map', '0:v:0', '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4')
          .build(),
      ),
    );
    return { start: segs[0].start, end: segs.at(-1)!.end, segments: segs.length };
  }

  /** The newest picture the ring holds, as a JPEG at the stream's own size (a "still" for cameras without one). */
  async latestStill(): Promise<Buffer> {
    const segs = this.segments();
    for (const s of segs.reverse().slice(0, 2)) {
      // The newest segment may still be written: the reading takes what is there. Its key frame
      // (a segment starts on one) is the newest whole picture: seeking near the end instead
      // lands between key frames when the GOP is as long as a segment, and decodes nothing.
      // An event's confirmation and warning stills ask within a moment of each other, and a
      // burst of events asks many times: one reading per key frame, not per question.
      const key = `${s.path}@${s.start}`;
      if (this.still?.key !== key) this.still = { key, jpeg: this.keyFrame(s.path) };
      const jpeg = await this.still.jpeg;
      if (jpeg) return jpeg;
      if (this.still?.key === key) this.still = null;
    }
    throw new Error(`clip ring of ${this.o.camera} has no picture yet`);
  }

  private async keyFrame(path: string): Promise<Buffer | null> {
    const own = await this.inProcess('still', (av) => keyFrameJpeg(av, path)).catch(() => undefined);
    if (own !== undefined) return own;
    const args = new FfmpegArgs()
      .logLevel('error')
      .input(path, '-skip_frame', 'nokey')
      .output('pipe:1', '-an', '-frames:v', 1, '-q:v', 2, '-f', 'image2', '-c:v', 'mjpeg')
      .build();
    const jpeg = await run(args).catch(() => null);
    return jpeg && jpeg.length > 2 && jpeg[0] === 0xff && jpeg[1] === 0xd8 ? jpeg : null;
  }

  /**
   * A reading done with node-av; rejects (the caller runs ffmpeg instead) where node-av does
   * not load, or when it fails on this file (logged: the command may still read it).
   */
  private async inProcess<T>(what: string, read: (av: NodeAv) => Promise<T>): Promise<T> {
    const av = await loadNodeAv();
    try {
      return await read(av);
    } catch (err) {
      this.log.warn({ err }, `clip ring: reading the ${what} in-process failed; trying ffmpeg`);
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((ok) => {
      const kill = setTimeout(() => p.kill('SIGKILL'), 3000);
      p.once('close', () => {
        clearTimeout(kill);
        ok();
      });
      p.kill('SIGTERM');
    });
  }
}

/** Evidence commands give way to the cameras' analysis on a full box (see RunOptions.nice). */
export const EVIDENCE_NICE = 10;

/** A short ffmpeg run, from the launcher's process (an event's evidence must not stall the cameras). */
async function run(args: string[]): Promise<Buffer> {
  const r = await runCommand('ffmpeg', args, { timeoutMs: 20_000, nice: EVIDENCE_NICE });
  if (r.code === 0) return r.stdout;
  throw new Error(`ffmpeg exited with code ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
}
