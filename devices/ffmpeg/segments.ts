/**
 * A clip ring written in-process from packets a NodeAvSource has already read: the same
 * files ffmpeg's segment muxer makes (`seg%04d.ts`, MPEG-TS, copied packets, wrapping),
 * without a second connection to the camera or a process per camera. A segment starts at
 * the first key frame at or after each multiple of `segmentS`; a file's modification time
 * is its end, as with ffmpeg (the ring reads segment times from the files).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { IRational } from 'node-av/lib';
import type { NodeAv } from './node-av-lib.ts';

export interface SegmentTarget {
  dir: string;
  segmentS: number;
  /** Number of files before the names wrap (seg0000 again). */
  wrap: number;
  /** A segment could not be written (a full disk): the ring tries again 10 s later. */
  onError?: (e: Error) => void;
}

type Lib = NodeAv['lib'];

export class SegmentWriter {
  private readonly av: NodeAv;
  private readonly t: SegmentTarget;
  private readonly codecpar: InstanceType<Lib['CodecParameters']>;
  private readonly inTb: IRational;
  private out: InstanceType<Lib['FormatContext']> | null = null;
  private outTb: IRational = { num: 1, den: 90000 };
  private index = 0;
  private boundaryS = 0;
  private flushedAt = 0;
  /** Segments written, and packets (for tests and measurement). */
  segments = 0;
  packets = 0;

  constructor(av: NodeAv, target: SegmentTarget, codecpar: InstanceType<Lib['CodecParameters']>, timeBase: IRational) {
    this.av = av;
    this.t = target;
    this.codecpar = codecpar;
    this.inTb = timeBase;
    mkdirSync(target.dir, { recursive: true });
  }

  /**
   * Writes one packet whose place in the stream is `tS` seconds (monotonic across a looped
   * file); `shift` moves its timestamps (input time base) onto that same line. The packet's
   * timestamps are changed: call this last, just before the packet is released.
   */
  write(packet: InstanceType<Lib['Packet']>, tS: number, shift: bigint): void {
    const { c } = this.av;
    const key = (packet.flags & c.AV_PKT_FLAG_KEY) !== 0;
    // An RTSP stream's first packet can come without a timestamp (the GStreamer server's
    // does): with B-frames the MPEG-TS muxer then refuses the packets after it, and the
    // ring stopped for 10 s. Nothing can be placed in time without one: the segment starts
    // at the next key frame instead.
    if (packet.dts === c.AV_NOPTS_VALUE && packet.pts === c.AV_NOPTS_VALUE && !this.out) return;
    if (key && (!this.out || tS >= this.boundaryS - 1e-3)) {
      this.open();
      this.boundaryS = (Math.floor(tS / this.t.segmentS + 1e-6) + 1) * this.t.segmentS;
    }
    const out = this.out;
    if (!out) return; // before the first key frame: nothing could decode it
    if (packet.pts !== c.AV_NOPTS_VALUE) packet.pts += shift;
    if (packet.dts !== c.AV_NOPTS_VALUE) packet.dts += shift;
    packet.rescaleTs(this.inTb, this.outTb);
    const index = packet.streamIndex;
    packet.streamIndex = 0;
    packet.pos = -1n;
    const ret = out.writeFrameSync(packet);
    packet.streamIndex = index;
    if (ret < 0) throw new Error(`clip ring: writing ${this.name()}: ${this.av.lib.FFmpegError.strerror(ret)}`);
    this.packets++;
    // The segment being written is read too (the newest still, a clip of the last
    // seconds): its bytes reach the file at least twice a second, not only when it closes.
    const now = Date.now();
    if (now - this.flushedAt >= 500) {
      out.flushSync();
      this.flushedAt = now;
    }
  }

  private name(): string {
    return join(this.t.dir, `seg${String(this.index).padStart(4, '0')}.ts`);
  }

  private open(): void {
    const { lib } = this.av;
    if (this.out) {
      this.close();
      this.index = (this.index + 1) % this.t.wrap;
    }
    const path = this.name();
    const out = new lib.FormatContext();
    const fail = (ret: number, what: string) => {
      if (ret >= 0) return;
      out.freeContext();
      throw new Error(`clip ring: ${what} ${path}: ${lib.FFmpegError.strerror(ret)}`);
    };
    fail(out.allocOutputContext2(null, 'mpegts', path), 'preparing');
    const s = out.newStream(null);
    fail(this.codecpar.copy(s.codecpar), 'copying the stream parameters to');
    s.codecpar.codecTag = 0; // MP4's avc1 tag means nothing in MPEG-TS
    s.timeBase = new lib.Rational(1, 90000);
    fail(out.openOutputSync(), 'creating');
    fail(out.writeHeaderSync(null), 'writing the header of');
    this.outTb = s.timeBase;
    this.out = out;
    this.segments++;
  }

  /** Ends the current segment (its file then holds whole packets only). */
  close(): void {
    const out = this.out;
    if (!out) return;
    this.out = null;
    try {
      out.writeTrailerSync();
      out.closeOutputSync();
    } finally {
      out.freeContext();
    }
  }
}
