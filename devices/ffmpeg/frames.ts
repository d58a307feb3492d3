/**
 * One ffmpeg child that turns a video source into raw RGB frames. It knows nothing of
 * cameras' health or restarts (the gateway supervises it); it reports frames, and on exit
 * a DeviceError classified from stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
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
}

export function frameSourceArgs(o: FrameSourceOptions): string[] {
  const isStream = /^(rtsps?|rtmp|https?|srt|udp):/.test(o.url);
  const url = isStream ? withCredentials(o.url, o.username, o.password) : o.url.replace(/^file:\/\//, '');
  const inputFlags = [
    ...(o.url.startsWith('rtsp') ? preset.rtsp(o.transport ?? 'tcp', o.timeoutS ?? 5) : []),
    ...(isStream ? [] : preset.fileAsCamera()),
    ...(o.keyFramesOnly === false ? [] : preset.keyFramesOnly()),
  ];
  return new FfmpegArgs()
    .logLevel('error')
    .input(url, ...inputFlags)
    .output('pipe:1', ...preset.scale(o.width, o.height, o.fit), ...preset.framesToPipe())
    .build();
}

export interface FrameSourceEvents {
  /** `data` came from the pool's `take`; the listener owns it until it gives it back. */
  frame: [header: PpmHeader, data: Buffer, ts: number];
  exit: [error: DeviceError, code: number | null, signal: NodeJS.Signals | null];
}

/**
 * Where frame pixels go. `take` is asked per frame, before any pixel is copied: returning
 * null skips the frame at the cost of one header parse (throttling, or every buffer busy).
 */
export interface FramePool {
  take(size: number, ts: number): Buffer | null;
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
    const child = spawn(this.opts.ffmpegPath ?? 'ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const parser = new PpmParser({
      begin: (h) => this.pool.take(h.width * h.height * 3, Date.now()),
      end: (h, data) => this.emit('frame', h, data, Date.now()),
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
      this.emit('exit', ffmpegError(this.id, this.stderr, fallback, [this.opts.password]), code, signal);
    });
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
