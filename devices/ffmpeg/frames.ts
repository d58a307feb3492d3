/**
 * One ffmpeg child that turns a video source into raw RGB frames. It knows nothing of
 * cameras' health or restarts (the gateway supervises it); it reports frames, and on exit
 * a DeviceError classified from stderr.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnTethered } from '../util/tethered.ts';
import { EventEmitter } from 'node:events';
import { FfmpegArgs, preset, withCredentials } from './args.ts';
import { PpmParser, type PpmHeader } from './ppm.ts';
import { ffmpegError, hideSecrets } from './errors.ts';
import type { DeviceError } from '../errors.ts';

export interface FrameSourceOptions {
  /** rtsp(s):// URL, or a local file played in real time and looped. */
  url: string;
  username?: string;
  password?: string;
  transport?: 'tcp' | 'udp';
  timeoutS?: number;
  width: number;
  height: number;
  fit: 'fit' | 'stretch';
  keyFramesOnly?: boolean;
  ffmpegPath?: string;
  /**
   * How frames are stamped. `wall` (default): when they arrive; a file plays in real time
   * and loops, like a camera. `media` (local files only): the file is read once, as fast
   * as the reader takes frames (see pause/resume), one frame per `periodS` of video, each
   * stamped `startMs` + its position in the video. A 30-minute recording is then analysed
   * in a fraction of that, with every duration measured as it was filmed.
   */
  clock?: 'wall' | 'media';
  /** `media`: seconds of video between frames (the analysis interval). */
  periodS?: number;
  /** `media`: the wall-clock time the video's start stands for (default: when started). */
  startMs?: number;
}

function isStreamUrl(url: string): boolean {
  return /^(rtsps?|rtmp|https?|srt|udp):/.test(url);
}

/** True when frames are stamped with their time in the video rather than on arrival. */
export function usesMediaClock(o: Pick<FrameSourceOptions, 'url' | 'clock'>): boolean {
  return o.clock === 'media' && !isStreamUrl(o.url);
}

export function frameSourceArgs(o: FrameSourceOptions): string[] {
  const isStream = isStreamUrl(o.url);
  const media = usesMediaClock(o);
  const url = isStream ? withCredentials(o.url, o.username, o.password) : o.url.replace(/^file:\/\//, '');
  const inputFlags = [
    ...(o.url.startsWith('rtsp') ? preset.rtsp(o.transport ?? 'tcp', o.timeoutS ?? 5) : []),
    ...(isStream ? [] : media ? preset.fileAsRecording() : preset.fileAsCamera()),
    ...(o.keyFramesOnly === false ? [] : preset.keyFramesOnly()),
  ];
  const clock = media ? preset.mediaClock(o.periodS ?? 1) : undefined;
  return new FfmpegArgs()
    .logLevel('error')
    .input(url, ...inputFlags)
    .output('pipe:1', ...preset.scale(o.width, o.height, o.fit, clock), ...preset.framesToPipe())
    .build();
}

/** What the encoder spent since the last decoded key frame: its P-frames' bytes (node-av only). */
export interface Motion {
  bytes: number;
  /** How many packets those were. */
  frames: number;
  /** The size of the key frame at hand: what a whole picture of this scene costs. */
  keyBytes: number;
}

export interface FrameSourceEvents {
  /** `data` came from the pool's `take`; the listener owns it until it gives it back. */
  frame: [header: PpmHeader & { motion?: Motion }, data: Buffer, ts: number];
  exit: [error: DeviceError, code: number | null, signal: NodeJS.Signals | null];
}

/**
 * Where frame pixels go. `take` is asked per frame, before any pixel is copied: returning
 * null skips the frame at the cost of one header parse (throttling, or every buffer busy).
 */
export interface FramePool {
  take(size: number, ts: number): Buffer | null;
  /**
   * Asked before a due key frame is decoded, when the source can tell what the encoder
   * spent since the last one it decoded: true skips it undecoded (the picture is still).
   */
  quiet?(ts: number, motion: Motion): boolean;
}

/** A single reused buffer: for callers that consume each frame synchronously. */
export function singleBuffer(): FramePool {
  let buf = Buffer.alloc(0);
  return { take: (size) => (buf.length === size ? buf : (buf = Buffer.allocUnsafe(size))) };
}

export class FrameSource extends EventEmitter<FrameSourceEvents> {
  private child: ChildProcess | null = null;
  private readonly stderr: string[] = [];
  readonly id: string;
  private readonly opts: FrameSourceOptions;
  private readonly pool: FramePool;
  private stopping = false;

  constructor(id: string, opts: FrameSourceOptions, pool: FramePool = singleBuffer()) {
    super();
    this.id = id;
    this.opts = opts;
    this.pool = pool;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.stopping = false;
    this.stderr.length = 0;
    const args = frameSourceArgs(this.opts);
    const child = spawnTethered(this.opts.ffmpegPath ?? 'ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    // Media clock: frame n stands for n x period after the start (the fps filter makes it so).
    const media = usesMediaClock(this.opts);
    const start = this.opts.startMs ?? Date.now();
    const periodMs = (this.opts.periodS ?? 1) * 1000;
    let n = -1;
    let ts = 0;
    const parser = new PpmParser({
      begin: (h) => {
        n++;
        ts = media ? start + Math.round(n * periodMs) : Date.now();
        return this.pool.take(h.width * h.height * 3, ts);
      },
      end: (h, data) => this.emit('frame', h, data, media ? ts : Date.now()),
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (e) {
        this.stderr.push(String((e as Error).message));
        child.kill('SIGKILL');
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      for (const line of s.split('\n')) if (line.trim()) this.stderr.push(line);
      if (this.stderr.length > 50) this.stderr.splice(0, this.stderr.length - 50);
    });
    child.on('error', (e) => this.stderr.push(`spawn ffmpeg failed: ${e.message}`));
    child.on('close', (code, signal) => {
      this.child = null;
      const fallback = this.stopping ? 'stopped' : signal ? `ffmpeg killed by ${signal}` : `ffmpeg exited with code ${code}`;
      const ended = !this.stopping && code === 0 && isStreamUrl(this.opts.url);
      this.emit('exit', ffmpegError(this.id, this.stderr, fallback, [this.opts.password], ended), code, signal);
    });
  }

  /** Stops reading frames; ffmpeg blocks on the full pipe (media clock back-pressure). */
  pause(): void {
    this.child?.stdout?.pause();
  }

  resume(): void {
    this.child?.stdout?.resume();
  }

  /** Last lines ffmpeg printed, for diagnostics. */
  recentStderr(): string[] {
    return this.stderr.map((l) => hideSecrets(l, [this.opts.password]));
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return Promise.resolve();
    this.stopping = true;
    return new Promise((ok) => {
      const force = setTimeout(() => child.kill('SIGKILL'), 2000);
      child.once('close', () => {
        clearTimeout(force);
        ok();
      });
      child.kill(signal);
    });
  }
}
