/**
 * The clip ring's two readings, done in this process with node-av instead of an ffmpeg
 * command each: the key frame a segment starts on, as a JPEG, and segments joined into one
 * MP4 (packets copied, never re-encoded). Debian's ffmpeg links about 200 libraries and
 * spends some 0.16 s of CPU starting, more than the work itself: an event's still and clip
 * cost half a second of CPU in two commands, a burst of 32 events at 32 cameras a third of
 * a core (scripts/bench-gateway.ts). The work below runs on libuv's threads (node-av's
 * async calls), one reading at a time, so that evidence never holds more than one of the
 * threads the cameras' decoding also needs.
 */
import type { NodeAv } from './node-av-lib.ts';

type Lib = NodeAv['lib'];
type Input = InstanceType<Lib['FormatContext']>;

let turn: Promise<unknown> = Promise.resolve();
/** One reading at a time, in the order asked. */
function queued<T>(job: () => Promise<T>): Promise<T> {
  const run = turn.then(job, job);
  turn = run.catch(() => undefined);
  return run;
}

async function openVideo(av: NodeAv, path: string): Promise<{ input: Input; vi: number }> {
  const { lib, c } = av;
  const input = new lib.FormatContext();
  const ret = await input.openInput(path, null, null);
  if (ret < 0) {
    input.freeContext();
    throw new Error(`opening ${path}: ${lib.FFmpegError.strerror(ret)}`);
  }
  const fail = async (what: string) => {
    await input.closeInput();
    throw new Error(`${path}: ${what}`);
  };
  const info = await input.findStreamInfo();
  if (info < 0) return fail(`reading its stream parameters: ${lib.FFmpegError.strerror(info)}`);
  const vi = input.findBestStream(c.AVMEDIA_TYPE_VIDEO);
  if (vi < 0) return fail('no video stream');
  for (const s of input.streams) if (s.index !== vi) s.discard = c.AVDISCARD_ALL;
  return { input, vi };
}

/**
 * The first key frame of a segment (a segment starts on one) as a JPEG at the stream's own
 * size, quality `q` on ffmpeg's -q:v scale (2: best). Null when it holds no whole key
 * frame (the newest segment, only just begun, or cut short).
 */
export function keyFrameJpeg(av: NodeAv, path: string, q = 2): Promise<Buffer | null> {
  return queued(() => keyFrame(av, path, q));
}

async function keyFrame(av: NodeAv, path: string, q: number): Promise<Buffer | null> {
  const { lib, c } = av;
  const { input, vi } = await openVideo(av, path);
  const dec = new lib.CodecContext();
  const enc = new lib.CodecContext();
  const scale = new lib.SoftwareScaleContext();
  const packet = new lib.Packet();
  const frame = new lib.Frame();
  const full = new lib.Frame();
  packet.alloc();
  frame.alloc();
  full.alloc();
  try {
    const codec = lib.Codec.findDecoder(input.streams[vi].codecpar.codecId);
    if (!codec) throw new Error(`${path}: no decoder for its video`);
    dec.allocContext3(codec);
    if (dec.parametersToContext(input.streams[vi].codecpar) < 0) throw new Error(`${path}: bad stream parameters`);
    const opened = await dec.open2(codec, lib.Dictionary.fromObject({ threads: '1', skip_frame: 'nokey' }));
    if (opened < 0) throw new Error(`${path}: opening the decoder: ${lib.FFmpegError.strerror(opened)}`);
    for (;;) {
      const ret = await input.readFrame(packet);
      if (ret < 0) return null; // the end, or a packet cut short: no whole key frame
      const key = packet.streamIndex === vi && (packet.flags & c.AV_PKT_FLAG_KEY) !== 0;
      if (!key) {
        packet.unref();
        continue;
      }
      // Drained at once: the key frame comes back now, not after the decoder's delay.
      let got = (await dec.sendPacket(packet)) >= 0 && (await dec.sendPacket(null)) >= 0;
      packet.unref();
      got = got && (await dec.receiveFrame(frame)) >= 0;
      // Concealed slices: the file ends inside this picture (the segment being written, or
      // one a power cut left short). ffmpeg's command gave its grey half as the still.
      if (got && frame.decodeErrorFlags !== 0) return null;
      if (got) return await encode(av, frame, full, scale, enc, q, path);
      dec.flushBuffers();
    }
  } finally {
    frame.free();
    full.free();
    packet.free();
    scale.freeContext();
    dec.freeContext();
    enc.freeContext();
    await input.closeInput();
  }
}

/** A decoded picture to JPEG, as `ffmpeg -q:v q -c:v mjpeg` makes it (full-range YUV 4:2:0). */
async function encode(
  av: NodeAv,
  frame: InstanceType<Lib['Frame']>,
  full: InstanceType<Lib['Frame']>,
  scale: InstanceType<Lib['SoftwareScaleContext']>,
  enc: InstanceType<Lib['CodecContext']>,
  q: number,
  path: string,
): Promise<Buffer> {
  const { lib, c } = av;
  const { width, height } = frame;
  const fmt = frame.format as Parameters<typeof scale.getContext>[2];
  scale.getContext(width, height, fmt, width, height, c.AV_PIX_FMT_YUVJ420P, c.SWS_BICUBIC);
  full.width = width;
  full.height = height;
  full.format = c.AV_PIX_FMT_YUVJ420P;
  if (full.allocBuffer() < 0 || (await scale.scaleFrame(full, frame)) < 0) throw new Error(`${path}: converting the picture`);
  const codec = lib.Codec.findEncoder(c.AV_CODEC_ID_MJPEG);
  if (!codec) throw new Error('node-av has no JPEG encoder');
  enc.allocContext3(codec);
  enc.width = width;
  enc.height = height;
  enc.pixelFormat = c.AV_PIX_FMT_YUVJ420P;
  enc.timeBase = new lib.Rational(1, 25);
  enc.flags = (enc.flags | c.AV_CODEC_FLAG_QSCALE) as typeof enc.flags;
  enc.globalQuality = q * c.FF_QP2LAMBDA;
  const opened = await enc.open2(codec, null);
  if (opened < 0) throw new Error(`opening the JPEG encoder: ${lib.FFmpegError.strerror(opened)}`);
  full.quality = enc.globalQuality;
  full.pts = 0n;
  const out = new lib.Packet();
  out.alloc();
  try {
    if ((await enc.sendFrame(full)) < 0 || (await enc.sendFrame(null)) < 0 || (await enc.receivePacket(out)) < 0)
      throw new Error(`${path}: encoding the JPEG`);
    return Buffer.from(out.data!);
  } finally {
    out.free();
  }
}

/**
 * The segments, in order, as one MP4 at `out` (video only, packets copied, the index at
 * the front). Timestamps run on across segments, as the ring writes them; one that does
 * not (a segment from before a restart) is moved on, as ffmpeg's muxer does.
 */
export function joinSegments(av: NodeAv, paths: readonly string[], out: string): Promise<void> {
  return queued(() => join(av, paths, out));
}

async function join(av: NodeAv, paths: readonly string[], out: string): Promise<void> {
  const { lib, c } = av;
  const mux = new lib.FormatContext();
  const packet = new lib.Packet();
  packet.alloc();
  let opened = false;
  let lastDts: bigint | null = null;
  /** The first picture's time: the clip starts at 0, as ffmpeg's copy makes it. */
  let zero: bigint | null = null;
  const fail = (ret: number, what: string) => {
    if (ret < 0) throw new Error(`${what} ${out}: ${lib.FFmpegError.strerror(ret)}`);
  };
  try {
    fail(mux.allocOutputContext2(null, 'mp4', out), 'preparing');
    for (const path of paths) {
      const { input, vi } = await openVideo(av, path);
      try {
        const inTb = input.streams[vi].timeBase;
        if (!opened) {
          const s = mux.newStream(null);
          fail(input.streams[vi].codecpar.copy(s.codecpar), 'copying the stream parameters to');
          s.codecpar.codecTag = 0; // MPEG-TS's tag means nothing in MP4
          s.timeBase = inTb;
          fail(await mux.openOutput(), 'creating');
          fail(await mux.writeHeader(lib.Dictionary.fromObject({ movflags: '+faststart' })), 'writing the header of');
          opened = true;
        }
        const outTb = mux.streams[0].timeBase;
        for (;;) {
          const ret = await input.readFrame(packet);
          if (ret < 0) break; // the end (of the newest segment: what was written so far)
          if (packet.streamIndex === vi && packet.size > 0) {
            packet.rescaleTs(inTb, outTb);
            zero ??= packet.pts !== c.AV_NOPTS_VALUE ? packet.pts : packet.dts !== c.AV_NOPTS_VALUE ? packet.dts : 0n;
            if (packet.pts !== c.AV_NOPTS_VALUE) packet.pts -= zero;
            if (packet.dts !== c.AV_NOPTS_VALUE) packet.dts -= zero;
            if (lastDts !== null && packet.dts !== c.AV_NOPTS_VALUE && packet.dts <= lastDts) {
              packet.dts = lastDts + 1n;
              if (packet.pts !== c.AV_NOPTS_VALUE && packet.pts < packet.dts) packet.pts = packet.dts;
            }
            if (packet.dts !== c.AV_NOPTS_VALUE) lastDts = packet.dts;
            packet.streamIndex = 0;
            packet.pos = -1n;
            fail(await mux.writeFrame(packet), 'writing');
          }
          packet.unref();
        }
      } finally {
        await input.closeInput();
      }
    }
    fail(await mux.writeTrailer(), 'finishing');
  } finally {
    packet.free();
    if (opened) await mux.closeOutput();
    mux.freeContext();
  }
}
