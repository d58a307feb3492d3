/**
 * Supervises one camera's ffmpeg: starts it, restarts it with backoff when it exits or
 * stalls, and keeps its health. A camera's failure stays inside this object; the other
 * cameras never notice.
 */
import { FrameSource, usesMediaClock, type FrameSourceOptions } from '../../devices/ffmpeg/frames.ts';
import { NodeAvSource } from '../../devices/ffmpeg/node-av.ts';
import { redact } from '../../devices/ffmpeg/args.ts';
import { DeviceError, isDeviceError } from '../../devices/errors.ts';
import { grabStill } from '../../devices/ffmpeg/still.ts';
import { fetchSnapshot } from '../../devices/http/snapshot.ts';
import { resolveSource, isOnvif, type CameraSource } from './source.ts';
import type { CameraSettings } from '../settings/schema.ts';
import type { Logger } from '../log.ts';
import { CameraFramePool } from './pool.ts';
import { Backoff } from '../backoff.ts';
import { RateWindow, type CameraHealth, type CameraState } from './health.ts';
import type { SegmentTarget } from '../../devices/ffmpeg/segments.ts';
import { chooseDecoder } from './decoder.ts';
import type { Motion } from '../../devices/ffmpeg/frames.ts';

const ONVIF_WORDS: Partial<Record<DeviceError['code'], string>> = {
  auth: 'auth failed (wrong user name or password)',
  unreachable: 'unreachable',
  refused: 'connection refused',
  timeout: 'timeout',
  not_found: 'not found',
  unsupported: 'unsupported',
};

export interface Frame {
  camera: string;
  ts: number;
  width: number;
  height: number;
  /** What the encoder spent on P-frames since the last decoded key frame (node-av only). */
  motion?: Motion;
  /** Owned by the receiver until it calls release(). */
  data: Buffer;
  release(): void;
}

export interface CaptureOptions {
  camera: CameraSettings;
  /** The model input size the frames are scaled to fit. */
  width: number;
  height: number;
  fit: 'fit' | 'stretch';
  log: Logger;
  onFrame: (f: Frame) => void;
  /**
   * A due key frame, before it is decoded, with what the encoder spent since the last one
   * (node-av): true skips it undecoded (the camera's pipeline calls the picture still).
   */
  onQuiet?: (ts: number, motion: Motion) => boolean;
  /** node-av: where the reader also writes the camera's clip segments (the evidence ring). */
  ring?: () => SegmentTarget | null;
  onHealth: (h: CameraHealth) => void;
  resolvePath?: (p: string) => string;
  /** Failed attempts in a row before the camera counts as offline. */
  offlineAfter?: number;
  backoff?: { baseMs: number; maxMs: number };
}

export class CameraCapture {
  private source: FrameSource | NodeAvSource | null = null;
  private src: CameraSource | null = null;
  private readonly pool: CameraFramePool;
  private readonly backoff: Backoff;
  private readonly rate = new RateWindow();
  private health: CameraHealth;
  private watchdog: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private failures = 0;
  private stopped = true;
  private readonly o: CaptureOptions;
  /** Every line carries part and camera. */
  private readonly log: Logger;
  /** Wall-clock time of the last frame (frame stamps may be media time). */
  private lastFrameWall = 0;
  /** Media clock: frames handed on and not yet released; reading pauses while one is out. */
  private inFlight = 0;
  /** Media clock: where the video's time continues after a restart (it never goes back). */
  private mediaNext: number | null = null;
  /** Media clock: the file has been played to its end. */
  ended = false;
  private readonly media: boolean;

  constructor(o: CaptureOptions) {
    this.o = o;
    this.log = o.log.child({ part: 'capture', camera: o.camera.id });
    this.media = !isOnvif(o.camera.url) && usesMediaClock({ url: o.camera.url, clock: o.camera.clock });
    this.pool = new CameraFramePool(o.camera.interval_s * 1000);
    this.pool.onQuiet = (ts, m) => this.quiet(ts, m);
    this.backoff = new Backoff(o.backoff ?? { baseMs: 1000, maxMs: 60_000 });
    this.health = {
      camera: o.camera.id,
      state: 'starting',
      reason: null,
      code: null,
      since: Date.now(),
      lastFrameAt: null,
      framesPerMinute: 0,
      restarts: 0,
      dropped: 0,
      width: null,
      height: null,
    };
  }

  get id(): string {
    return this.o.camera.id;
  }

  /** A file analysed at its own pace (clock: media): its frame stamps are video time. */
  get mediaClock(): boolean {
    return this.media;
  }

  snapshot(): CameraHealth {
    return { ...this.health, framesPerMinute: this.rate.count(Date.now()), dropped: this.health.dropped + this.pool.skippedBusy };
  }

  /** Counts a frame the detector had to drop (it fell behind). */
  countDrop(): void {
    this.health.dropped++;
  }

  start(): void {
    this.stopped = false;
    this.spawn();
    // Stall detection runs on its own clock: ffmpeg can hang without exiting.
    this.watchdog = setInterval(() => this.checkStall(), 1000);
    this.watchdog.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.retry) clearTimeout(this.retry);
    await this.source?.stop();
    this.source = null;
  }

  private spawn(): void {
    void this.open().catch((e: unknown) => {
      if (this.stopped) return;
      // ONVIF could not tell us the stream: same handling as a stream that failed, in the
      // same words ("auth failed", "unreachable") a technician sees for RTSP.
      const err = isDeviceError(e)
        ? new DeviceError(e.code, this.id, `ONVIF ${ONVIF_WORDS[e.code] ?? e.code}: ${e.message}`)
        : new DeviceError('protocol', this.id, String((e as Error).message ?? e));
      this.failed(err);
    });
  }

  /** Finds the stream (asking ONVIF again after repeated failures), then starts ffmpeg. */
  private async open(): Promise<void> {
    const c = this.o.camera;
    if (!this.src || (isOnvif(c.url) && this.failures > 0 && this.failures % 3 === 0)) {
      this.src = await resolveSource(c, this.o.resolvePath);
      if (this.src.note) this.log.info({ onvif: this.src.note, stream: redact(this.src.analytics) }, 'ONVIF streams found');
    }
    if (this.stopped) return;
    const url = this.src.analytics;
    const media = this.media;
    // Media clock: a restart continues the video's time, it never goes back.
    const startMs = media ? Math.max(Date.now(), this.mediaNext ?? 0) : undefined;
    const opts: FrameSourceOptions = {
      url,
      username: c.username,
      password: c.password,
      transport: c.transport,
      timeoutS: 5,
      width: this.o.width,
      height: this.o.height,
      fit: this.o.fit,
      clock: c.clock ?? 'wall',
      periodS: c.interval_s,
      startMs,
    };
    // node-av decodes in this process, and only the key frames the pool takes (due ones).
    const decoder = await chooseDecoder(c);
    if (this.stopped) return;
    const src = decoder === 'node-av' ? new NodeAvSource(c.id, opts, this.pool, this.o.ring) : new FrameSource(c.id, opts, this.pool);
    this.source = src;
    this.startedAt = Date.now();
    this.inFlight = 0;
    src.on('frame', (h, data, ts) => this.frame(h.width, h.height, data, ts, h.motion));
    src.once('exit', (err, code) => {
      if (this.source === src) this.source = null;
      if (this.stopped) return;
      if (media && code === 0) return this.finished();
      this.failed(err);
    });
    src.start();
    this.log.debug({ url: redact(url), pid: src.pid, decoder }, 'stream started');
  }

  /** Media clock: the recording has been analysed to its end; it is not played again. */
  private finished(): void {
    this.ended = true;
    this.setState('offline', 'end of the video file (clock: media plays a file once)');
    this.log.info({ until: this.health.lastFrameAt }, 'video file analysed to its end');
  }

  /**
   * A full-resolution still for evidence: the camera's snapshot URI, else one key frame of
   * the main stream. Null when neither is known or both fail (the analysed frame is used).
   */
  async still(timeoutMs = 6000): Promise<Buffer | null> {
    const c = this.o.camera;
    const s = this.src;
    if (!s) return null;
    if (s.snapshot) {
      const jpeg = await fetchSnapshot(s.snapshot, c.username, c.password, timeoutMs, c.id).catch((err: Error) => {
        this.log.warn({ err }, 'snapshot failed; trying the main stream');
        return null;
      });
      if (jpeg) return jpeg;
    }
    if (s.main) {
      return grabStill({ url: s.main, username: c.username, password: c.password, transport: c.transport, timeoutMs, device: c.id }).catch(
        (err: Error) => {
          this.log.warn({ err }, 'still from the main stream failed; evidence uses the analysed frame');
          return null;
        },
      );
    }
    return null;
  }

  /** A due frame left undecoded: the stream is alive and on time all the same. */
  private quiet(ts: number, motion: Motion): boolean {
    if (!this.o.onQuiet?.(ts, motion)) return false;
    this.arrived(ts);
    return true;
  }

  private arrived(ts: number): void {
    this.rate.add(Date.now());
    this.lastFrameWall = Date.now();
    this.health.lastFrameAt = ts;
    if (this.media) this.mediaNext = ts + this.o.camera.interval_s * 1000;
  }

  private frame(width: number, height: number, data: Buffer, ts: number, motion?: Motion): void {
    this.arrived(ts);
    const source = this.source;
    const media = this.media && source !== null;
    if (media) {
      // Back-pressure instead of dropping: ffmpeg waits until the detector took this frame.
      this.inFlight++;
      source.pause();
    }
    this.health.width = width;
    this.health.height = height;
    if (this.health.state !== 'online') {
      this.failures = 0;
      this.backoff.reset();
      this.setState('online', null);
    }
    let released = false;
    this.o.onFrame({
      camera: this.o.camera.id,
      ts,
      width,
      height,
      data,
      motion,
      release: () => {
        if (!released) {
          released = true;
          this.pool.release(data);
          if (media && --this.inFlight <= 0 && this.source === source) source.resume();
        }
      },
    });
  }

  private checkStall(): void {
    // A stall already found: its reader is letting go.
    if (!this.source || this.stopped || this.stallReason) return;
    // Media clock: reading waits for the detector on purpose; that is not a stalled stream.
    if (this.media && this.inFlight > 0) return;
    const last = Math.max(this.lastFrameWall, this.startedAt);
    // Before the first frame allow for connection and the first key frame.
    const limit = (this.o.camera.stall_s + (last === this.startedAt ? 5 : 0)) * 1000;
    if (Date.now() - last > limit) {
      this.log.warn({ stall_s: this.o.camera.stall_s }, 'no frames: restarting the stream');
      this.stallReason = `timeout: no frame for ${Math.round((Date.now() - last) / 1000)} s`;
      // Said now: an in-process reader lets go only when its blocked read times out, which
      // on a frozen RTSP server took from 5 to over 10 s more.
      this.setState('reconnecting', this.stallReason, 'timeout');
      void this.source.stop('SIGKILL');
    }
  }

  private stallReason: string | null = null;

  private failed(err: DeviceError): void {
    this.failures++;
    this.health.restarts++;
    const stalled = this.stallReason;
    this.stallReason = null;
    const reason = stalled ?? err.message.replace(`${this.id}: `, '');
    const code = stalled ? 'timeout' : err.code;
    const state: CameraState = this.failures >= (this.o.offlineAfter ?? 3) ? 'offline' : 'reconnecting';
    this.setState(state, reason, code);
    const delay = this.backoff.next();
    this.log.warn({ reason, retry_s: +(delay / 1000).toFixed(1) }, `camera ${state}`);
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.stopped) this.spawn();
    }, delay);
  }

  private setState(state: CameraState, reason: string | null, code: CameraHealth['code'] = null): void {
    const changed = state !== this.health.state || reason !== this.health.reason;
    this.health.state = state;
    this.health.reason = reason;
    this.health.code = code;
    if (changed) {
      this.health.since = Date.now();
      if (state === 'online') this.log.info({ size: `${this.health.width}x${this.health.height}` }, 'camera online');
      this.o.onHealth(this.snapshot());
    }
  }
}
