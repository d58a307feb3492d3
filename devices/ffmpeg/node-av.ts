/**
 * In-process frames through node-av (FFmpeg's libraries, bundled with the npm package): the
 * same job and events as FrameSource, without a child process per camera. Every packet is
 * read, but a key frame is decoded only when the pool takes it (the camera is due for
 * analysis); every other packet is dropped undecoded. The key frame is scaled straight into
 * the pool's buffer. node-av is an optional dependency, loaded on first use.
 */
import { EventEmitter } from 'node:events';
import type { FramePool, FrameSourceEvents, FrameSourceOptions } from './frames.ts';
import { singleBuffer, usesMediaClock } from './frames.ts';
import { withCredentials } from './args.ts';
import { ffmpegError, hideSecrets } from './errors.ts';
import { SegmentWriter, type SegmentTarget } from './segments.ts';
import { loadNodeAv } from './node-av-lib.ts';
import { CaptureClock } from './capture-clock.ts';

export { loadNodeAv, type NodeAv } from './node-av-lib.ts';

function isStreamUrl(url: string): boolean {
  return /^(rtsps?|rtmp|https?|srt|udp):/.test(url);
}

/** The size ffmpeg's scale filter gives with force_original_aspect_ratio=decrease (av_rescale rounds). */
export function fitSize(srcW: number, srcH: number, w: number, h: number, fit: 'fit' | 'stretch'): [number, number] {
  if (fit === 'stretch') return [w, h];
  return [Math.min(w, Math.round((h * srcW) / srcH)), Math.min(h, Math.round((w * srcH) / srcW))];
}

const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));
const immediate = () => new Promise<void>((ok) => setImmediate(ok));

export class NodeAvSource extends EventEmitter<FrameSourceEvents> {
  readonly id: string;
  private readonly opts: FrameSourceOptions;
  private readonly pool: FramePool;
  private readonly ring: () => SegmentTarget | null;
  private readonly log: string[] = [];
  private stopping = false;
  private running: Promise<void> | null = null;
  private paused: { promise: Promise<void>; resume: () => void } | null = null;
  /** Key frames decoded, and packets dropped undecoded (for measurement). */
  decoded = 0;
  skipped = 0;
  /** Due key frames left undecoded because the pool called them quiet (a still picture). */
  quiet = 0;

  /**
   * `ring`, asked at each packet: where to keep the stream's packets as clip segments (the
   * evidence ring fed from this reader), or null while there is no ring.
   */
  constructor(id: string, opts: FrameSourceOptions, pool: FramePool = singleBuffer(), ring: () => SegmentTarget | null = () => null) {
    super();
    this.id = id;
    this.opts = opts;
    this.pool = pool;
    this.ring = ring;
  }

  /** No child process: the gateway's own. */
  get pid(): number | undefined {
    return undefined;
  }

  start(): void {
    this.stopping = false;
    this.log.length = 0;
    this.running = this.run().then(
      (code) => this.exit(code),
      (e: Error) => {
        this.log.push(e.message);
        this.exit(1);
      },
    );
  }

  private exit(code: number): void {
    this.running = null;
    const fallback = this.stopping ? 'stopped' : `decoding ended with code ${code}`;
    const ended = !this.stopping && code === 0 && isStreamUrl(this.opts.url);
    this.emit('exit', ffmpegError(this.id, this.log, fallback, [this.opts.password], ended), code, null);
  }

  pause(): void {
    if (this.paused) return;
    let resume = () => {};
    const promise = new Promise<void>((ok) => (resume = ok));
    this.paused = { promise, resume };
  }

  resume(): void {
    const p = this.paused;
    this.paused = null;
    p?.resume();
  }

  recentStderr(): string[] {
    return this.log.map((l) => hideSecrets(l, [this.opts.password]));
  }

  /** The signal is ignored: reading stops at the next packet (or the socket timeout). */
  async stop(_signal?: NodeJS.Signals): Promise<void> {
    const r = this.running;
    if (!r) return;
    this.stopping = true;
    this.resume();
    await r;
  }

  /** Reads until stopped, the end of a file played once (0), or an error (thrown). */
  private async run(): Promise<number> {
    const av = await loadNodeAv();
    const { lib, c } = av;
    const o = this.opts;
    const stream = isStreamUrl(o.url);
    const media = usesMediaClock(o);
    const url = stream ? withCredentials(o.url, o.username, o.password) : o.url.replace(/^file:\/\//, '');
    const fail = (ret: number, what: string) => {
      if (ret < 0) throw new Error(`${what}: ${lib.FFmpegError.strerror(ret)}`);
    };

    const input = new lib.FormatContext();
    const dec = new lib.CodecContext();
    const shrink = new lib.SoftwareScaleContext();
    const toRgb = new lib.SoftwareScaleContext();
    const packet = new lib.Packet();
    const frame = new lib.Frame();
    let writer: SegmentWriter | null = null;
    packet.alloc();
    frame.alloc();
    try {
      const inOpts: Record<string, string> = { analyzeduration: '1000000' };
      if (o.url.startsWith('rtsp')) {
        inOpts.rtsp_transport = o.transport ?? 'tcp';
        inOpts.timeout = String(Math.round((o.timeoutS ?? 5) * 1e6));
      }
      fail(await input.openInput(url, null, lib.Dictionary.fromObject(inOpts)), `opening ${stream ? 'the stream' : 'the file'}`);
      fail(await input.findStreamInfo(), 'Could not find codec parameters');
      const vi = input.findBestStream(c.AVMEDIA_TYPE_VIDEO);
      if (vi < 0) throw new Error('no video stream found');
      // Audio and data streams are not even demuxed into packets.
      for (const s of input.streams) if (s.index !== vi) s.discard = c.AVDISCARD_ALL;
      const vs = input.streams[vi];
      const codec = lib.Codec.findDecoder(vs.codecpar.codecId);
      if (!codec) throw new Error(`Decoder (codec ${vs.codecpar.codecId}) not found`);
      dec.allocContext3(codec);
      fail(dec.parametersToContext(vs.codecpar), 'decoder parameters');
      // One thread (many cameras share the cores; frame threads only add delay), and no
      // deblocking: a key frame is never a reference for anything we decode, it saves about
      // 7% of a 640x360 key frame's decoding, and the picture stays close to ffmpeg's
      // (test/capture/node-av.test.ts bounds the difference).
      fail(await dec.open2(codec, lib.Dictionary.fromObject({ threads: '1', skip_loop_filter: 'all' })), 'opening the decoder');

      const tb = vs.timeBase;
      const sec = (pts: bigint) => (Number(pts) * tb.num) / tb.den;
      const periodMs = (o.periodS ?? 1) * 1000;
      const startMs = o.startMs ?? Date.now();
      let firstPts: number | null = null;
      let firstTb = 0n;
      /**
       * Moves a packet's timestamps (time base units) onto t's line, for the clip ring. It
       * changes only at the first packet and at each loop of a file, not per packet.
       */
      let ringShift = 0n;
      const reshift = () => {
        ringShift = BigInt(Math.round((loopOffsetS * tb.den) / tb.num)) - firstTb;
      };
      let t = 0;
      /** After a clip-ring failure (a full disk), when to try again. */
      let ringRetry = 0;
      const record = () => {
        const target = this.ring();
        if (!target) {
          writer?.close();
          writer = null;
          return;
        }
        if (packet.streamIndex !== vi || packet.size === 0 || Date.now() < ringRetry) return;
        try {
          writer ??= new SegmentWriter(av, target, vs.codecpar, tb);
          writer.write(packet, t, ringShift);
        } catch (e) {
          try {
            writer?.close();
          } catch {}
          writer = null;
          ringRetry = Date.now() + 10_000;
          target.onError?.(e as Error);
        }
      };
      /** A file played like a camera: when its time zero is, and how far earlier loops took it. */
      const loopBase = Date.now();
      let loopOffsetS = 0;
      /** Stamps each picture when it was taken, not when this thread got to it (capture-clock.ts). */
      const taken = new CaptureClock();
      let lastS = 0;
      /** Media clock: the next slot (period of video) due. */
      let slot = 0;
      let swsKey = '';
      let small: Buffer[] = [];
      let smallStride: number[] = [];
      let lastFrame: Buffer | null = null;
      /** The P-frames since the last decoded key frame: the cheapest sign of change. */
      const motion = { bytes: 0, frames: 0, keyBytes: 0 };
      const isQuiet = (ts: number) => {
        if (!this.pool.quiet?.(ts, motion)) return false;
        this.quiet++;
        return true;
      };
      const decoded = () => {
        const m = { ...motion };
        motion.bytes = 0;
        motion.frames = 0;
        return m;
      };

      const decodeInto = async (dst: Buffer, w: number, h: number): Promise<boolean> => {
        // Drain the decoder after each key frame, so it always gives the frame back at once
        // (no reordering delay), then reset it for the next one.
        let ret = await dec.sendPacket(packet);
        if (ret >= 0) ret = await dec.sendPacket(null);
        let got = false;
        while ((ret = await dec.receiveFrame(frame)) >= 0) {
          if (!got) {
            const key = `${frame.width}x${frame.height}:${frame.format}>${w}x${h}`;
            if (key !== swsKey) {
              // Resize in YUV first, then convert the small picture to RGB: 0.16 instead of
              // 0.44 ms for 640x360 to 416x234 in one pass (as the ffmpeg path does, args.ts).
              shrink.freeContext();
              toRgb.freeContext();
              const fmt = frame.format as Parameters<typeof shrink.getContext>[2];
              shrink.getContext(frame.width, frame.height, fmt, w, h, c.AV_PIX_FMT_YUV420P, c.SWS_BILINEAR);
              toRgb.getContext(w, h, c.AV_PIX_FMT_YUV420P, w, h, c.AV_PIX_FMT_RGB24, c.SWS_BILINEAR);
              const cw = Math.ceil(w / 2);
              const ch = Math.ceil(h / 2);
              small = [Buffer.alloc(w * h), Buffer.alloc(cw * ch), Buffer.alloc(cw * ch)];
              smallStride = [w, cw, cw];
              swsKey = key;
            }
            shrink.scaleSync(frame.data!, frame.linesize, 0, frame.height, small, smallStride);
            toRgb.scaleSync(small, smallStride, 0, h, [dst], [w * 3]);
            got = true;
          }
          frame.unref();
        }
        dec.flushBuffers();
        return got;
      };

      // A file is read on this thread: a packet from the page cache takes microseconds, and
      // libuv's four threads are then left to decoding and the evidence (an async read per
      // packet, 25 a second for each of 134 cameras, queued there until every reader fell
      // behind real time and key frames stopped coming). A stream's read can block on the
      // network, so it stays async.
      let unyielded = 0;
      for (;;) {
        if (this.paused) await this.paused.promise;
        if (this.stopping) return 0;
        let ret: number;
        if (stream) ret = await input.readFrame(packet);
        else {
          // Reading as fast as it can (a media clock, or catching up): let others run too.
          if (++unyielded >= 32) {
            unyielded = 0;
            await immediate();
          }
          ret = input.readFrameSync(packet);
        }
        if (this.stopping) return 0;
        if (ret === c.AVERROR_EOF) {
          if (stream) return 0;
          if (media) return 0;
          // A file plays like a camera: loop it, its time running on.
          loopOffsetS = lastS + 0.04;
          reshift();
          fail(await input.seekFrame(vi, 0n, c.AVSEEK_FLAG_BACKWARD), 'rewinding the file');
          continue;
        }
        fail(ret, 'reading');
        try {
          if (packet.streamIndex !== vi) continue;
          const ptsS = packet.pts === c.AV_NOPTS_VALUE ? lastS - loopOffsetS : sec(packet.pts);
          if (firstPts === null) {
            firstPts = ptsS;
            firstTb = packet.pts === c.AV_NOPTS_VALUE ? 0n : packet.pts;
            reshift();
          }
          t = loopOffsetS + ptsS - firstPts;
          lastS = t;
          if (!stream && !media) {
            // Real time, like -re: wait until the packet's moment.
            const wait = loopBase + t * 1000 - Date.now();
            if (wait > 0) {
              unyielded = 0;
              await sleep(wait);
            }
            if (this.stopping) return 0;
          }
          if (!(packet.flags & c.AV_PKT_FLAG_KEY)) {
            this.skipped++;
            motion.bytes += packet.size;
            motion.frames++;
            continue;
          }
          motion.keyBytes = packet.size;
          const [w, h] = fitSize(vs.codecpar.width, vs.codecpar.height, o.width, o.height, o.fit);
          const size = w * h * 3;
          const header = { width: w, height: h };
          if (media) {
            // One frame per period of video, like the fps filter (round=near): a key frame
            // fills the slot nearest to it; slots it skipped over repeat the last picture.
            const mine = Math.round((t * 1000) / periodMs);
            if (mine < slot) {
              this.skipped++;
              continue;
            }
            if (lastFrame && isQuiet(startMs + mine * periodMs)) {
              // The slots in between would repeat an unchanged picture: skipped with it.
              slot = mine + 1;
              continue;
            }
            while (lastFrame && slot < mine) {
              await this.emitCopy(lastFrame, size, startMs + slot * periodMs, header);
              slot++;
              if (this.stopping) return 0;
            }
            const ts = startMs + mine * periodMs;
            const dst = this.pool.take(size, ts);
            if (!dst) continue;
            if (!(await decodeInto(dst, w, h))) continue;
            this.decoded++;
            if (lastFrame?.length !== size) lastFrame = Buffer.allocUnsafe(size);
            dst.copy(lastFrame);
            slot = mine + 1;
            this.emit('frame', { ...header, motion: decoded() }, dst, ts);
            continue;
          }
          const ts = taken.at(t);
          if (isQuiet(ts)) continue;
          const dst = this.pool.take(size, ts);
          if (!dst) {
            this.skipped++;
            continue;
          }
          if (await decodeInto(dst, w, h)) {
            this.decoded++;
            this.emit('frame', { ...header, motion: decoded() }, dst, ts);
          }
        } finally {
          record();
          packet.unref();
        }
      }
    } finally {
      // (Assigned in record(), which TypeScript's narrowing does not see.)
      (writer as SegmentWriter | null)?.close();
      frame.free();
      packet.free();
      shrink.freeContext();
      toRgb.freeContext();
      dec.freeContext();
      await input.closeInput();
    }
  }

  /** Media clock: a slot with no key frame of its own repeats the last one. */
  private async emitCopy(src: Buffer, size: number, ts: number, header: { width: number; height: number }): Promise<void> {
    if (this.paused) await this.paused.promise;
    if (this.stopping) return;
    const dst = this.pool.take(size, ts);
    if (!dst) return;
    src.copy(dst);
    this.emit('frame', header, dst, ts);
  }
}
