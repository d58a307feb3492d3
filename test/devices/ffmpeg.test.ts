/**
 * devices/ffmpeg: the command line, credentials in URLs, the PPM frame splitter, the
 * stderr classifier on what real ffmpeg prints, and FrameSource on a real clip.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FfmpegArgs, preset, redact, withCredentials } from '../../devices/ffmpeg/args.ts';
import { FrameSource, frameSourceArgs, singleBuffer, type FrameSourceOptions } from '../../devices/ffmpeg/frames.ts';
import { PpmParser, type PpmHeader } from '../../devices/ffmpeg/ppm.ts';
import { classifyStderr, ffmpegError } from '../../devices/ffmpeg/errors.ts';
import { DeviceError } from '../../devices/errors.ts';
import { havePeers } from '../peers/require.ts';
import { makeClip } from '../peers/media.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gw-ffmpeg-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const hasFfmpeg = havePeers('ffmpeg');

const base: FrameSourceOptions = { url: 'rtsp://192.0.2.10:554/Streaming/Channels/102', width: 416, height: 416, fit: 'fit' };
const before = (args: string[], flag: string, other: string) => {
  expect(args).toContain(flag);
  expect(args.indexOf(flag)).toBeLessThan(args.indexOf(other));
};

describe('frameSourceArgs', () => {
  it('rtsp: -rtsp_transport, -timeout in µs and -skip_frame nokey, all before -i', () => {
    const a = frameSourceArgs({ ...base, transport: 'udp', timeoutS: 7 });
    before(a, '-skip_frame', '-i');
    expect(a[a.indexOf('-skip_frame') + 1]).toBe('nokey');
    before(a, '-rtsp_transport', '-i');
    expect(a[a.indexOf('-rtsp_transport') + 1]).toBe('udp');
    before(a, '-timeout', '-i');
    expect(a[a.indexOf('-timeout') + 1]).toBe('7000000');
    expect(a[a.indexOf('-i') + 1]).toBe(base.url);
    // Not a file: no real-time pacing or looping.
    expect(a).not.toContain('-re');
    expect(a).not.toContain('-stream_loop');
    // ffmpeg 5.1 spellings
    expect(a).not.toContain('-stimeout');
    expect(a).not.toContain('-vsync');
  });

  it('rtsp defaults: tcp and 5 s', () => {
    const a = frameSourceArgs(base);
    expect(a[a.indexOf('-rtsp_transport') + 1]).toBe('tcp');
    expect(a[a.indexOf('-timeout') + 1]).toBe('5000000');
  });

  it('files: -re -stream_loop -1 before -i, file:// stripped, no rtsp flags', () => {
    const a = frameSourceArgs({ ...base, url: 'file:///srv/videos/street.mp4' });
    const i = a.indexOf('-i');
    expect(a[i + 1]).toBe('/srv/videos/street.mp4');
    const re = a.indexOf('-re');
    expect(re).toBeGreaterThanOrEqual(0);
    expect(re).toBeLessThan(i);
    expect(a.slice(a.indexOf('-stream_loop'), a.indexOf('-stream_loop') + 2)).toEqual(['-stream_loop', '-1']);
    expect(a.indexOf('-stream_loop')).toBeLessThan(i);
    expect(a).not.toContain('-rtsp_transport');
    expect(a).not.toContain('-timeout');
    expect(frameSourceArgs({ ...base, url: 'videos/a.mp4' })[a.indexOf('-i') + 1]).toBe('videos/a.mp4');
  });

  it('keyFramesOnly: false drops -skip_frame', () => {
    expect(frameSourceArgs({ ...base, keyFramesOnly: false })).not.toContain('-skip_frame');
    expect(frameSourceArgs({ ...base, keyFramesOnly: true })).toContain('-skip_frame');
  });

  it('output: scale keeping aspect, PPM to stdout, one frame per decoded frame', () => {
    const a = frameSourceArgs(base);
    const vf = a[a.indexOf('-vf') + 1];
    expect(vf).toBe('scale=w=416:h=416:force_original_aspect_ratio=decrease:flags=bilinear,scale=flags=bilinear');
    expect(a.indexOf('-vf')).toBeGreaterThan(a.indexOf('-i'));
    expect(a.at(-1)).toBe('pipe:1');
    expect(a.join(' ')).toContain('-fps_mode passthrough -f image2pipe -c:v ppm');
    expect(a.slice(0, 3)).toEqual(['-hide_banner', '-nostdin', '-nostats']);
    expect(a.slice(3, 5)).toEqual(['-loglevel', 'error']);
    const s = frameSourceArgs({ ...base, fit: 'stretch', width: 320, height: 320 });
    expect(s[s.indexOf('-vf') + 1]).toBe('scale=w=320:h=320:flags=bilinear,scale=flags=bilinear');
  });

  it('credentials go into the URL for streams only', () => {
    const a = frameSourceArgs({ ...base, username: 'admin', password: 'p@ss:w/rd' });
    expect(a[a.indexOf('-i') + 1]).toBe('rtsp://admin:p%40ss%3Aw%2Frd@192.0.2.10:554/Streaming/Channels/102');
  });

  it('FfmpegArgs puts input flags before their -i and globals first', () => {
    const a = new FfmpegArgs()
      .logLevel('warning')
      .global('-y')
      .input('in.mp4', ...preset.fileAsCamera())
      .output('out.ppm', '-frames:v', 1)
      .build();
    expect(a).toEqual([
      '-hide_banner',
      '-nostdin',
      '-nostats',
      '-loglevel',
      'warning',
      '-y',
      '-re',
      '-stream_loop',
      '-1',
      '-i',
      'in.mp4',
      '-frames:v',
      '1',
      'out.ppm',
    ]);
    expect(preset.rtsp('tcp', 0.5)).toEqual(['-rtsp_transport', 'tcp', '-timeout', 500000]);
  });
});

describe('withCredentials / redact', () => {
  it('escapes reserved characters and round-trips through URL parsing', () => {
    const u = withCredentials('rtsp://192.0.2.10/ch1', 'ad min', 'p@ss:w/rd#1%');
    const parsed = new URL(u);
    expect(decodeURIComponent(parsed.username)).toBe('ad min');
    expect(decodeURIComponent(parsed.password)).toBe('p@ss:w/rd#1%');
    expect(parsed.hostname).toBe('192.0.2.10');
    expect(parsed.pathname).toBe('/ch1');
  });

  it('leaves URLs alone without a user, or with credentials already in them', () => {
    expect(withCredentials('rtsp://192.0.2.10/ch1')).toBe('rtsp://192.0.2.10/ch1');
    expect(withCredentials('rtsp://192.0.2.10/ch1', undefined, 'pw')).toBe('rtsp://192.0.2.10/ch1');
    expect(withCredentials('rtsp://u:p@192.0.2.10/ch1', 'other', 'x')).toBe('rtsp://u:p@192.0.2.10/ch1');
    expect(withCredentials('rtsp://192.0.2.10/ch1', 'admin')).toBe('rtsp://admin@192.0.2.10/ch1');
  });

  it('redact hides the password and keeps the rest', () => {
    const u = withCredentials('rtsp://192.0.2.10:554/ch1?x=1', 'admin', 's3cret');
    const r = redact(u);
    expect(r).not.toContain('s3cret');
    expect(r).toBe('rtsp://admin:***@192.0.2.10:554/ch1?x=1');
    expect(redact('rtsp://192.0.2.10/ch1')).toBe('rtsp://192.0.2.10/ch1');
    expect(redact('not a url')).toBe('not a url');
  });
});

/** Frames of a PPM stream: header + pixels where pixel i of frame f is (f*7 + i) & 0xff. */
function ppmStream(
  sizes: [number, number][],
  header = (w: number, h: number) => `P6\n${w} ${h}\n255\n`,
): { bytes: Buffer; frames: { w: number; h: number; data: Buffer }[] } {
  const frames = sizes.map(([w, h], f) => {
    const data = Buffer.alloc(w * h * 3);
    for (let i = 0; i < data.length; i++) data[i] = (f * 7 + i) & 0xff;
    return { w, h, data };
  });
  return { bytes: Buffer.concat(frames.flatMap((f) => [Buffer.from(header(f.w, f.h), 'latin1'), f.data])), frames };
}

function collect(skip: (h: PpmHeader, i: number) => boolean = () => false) {
  const got: { h: PpmHeader; data: Buffer }[] = [];
  let i = 0;
  const parser = new PpmParser({
    begin: (h) => (skip(h, i++) ? null : Buffer.alloc(h.width * h.height * 3)),
    end: (h, data) => got.push({ h, data: Buffer.from(data) }),
  });
  return { parser, got };
}

describe('PpmParser', () => {
  // Three frames, the size changing mid-stream (a camera switching resolution).
  const { bytes, frames } = ppmStream([
    [4, 2],
    [4, 2],
    [3, 5],
    [1, 1],
  ]);

  const check = (got: { h: PpmHeader; data: Buffer }[]) => {
    expect(got.map((g) => [g.h.width, g.h.height])).toEqual(frames.map((f) => [f.w, f.h]));
    got.forEach((g, k) => expect(g.data.equals(frames[k].data), `frame ${k}`).toBe(true));
  };

  it('parses a whole stream in one chunk', () => {
    const { parser, got } = collect();
    parser.push(bytes);
    check(got);
  });

  it('parses the stream split into two chunks at every byte offset', () => {
    for (let k = 0; k <= bytes.length; k++) {
      const { parser, got } = collect();
      parser.push(bytes.subarray(0, k));
      parser.push(bytes.subarray(k));
      check(got);
    }
  });

  it('parses the stream split into three chunks at every pair of offsets in the headers', () => {
    for (let a = 0; a < 30; a++)
      for (let b = a; b < 60; b++) {
        const { parser, got } = collect();
        parser.push(bytes.subarray(0, a));
        parser.push(bytes.subarray(a, b));
        parser.push(bytes.subarray(b));
        check(got);
      }
  });

  it('parses the stream one byte at a time', () => {
    const { parser, got } = collect();
    for (let i = 0; i < bytes.length; i++) parser.push(bytes.subarray(i, i + 1));
    check(got);
  });

  it('accepts any whitespace between header fields', () => {
    const s = ppmStream(
      [
        [2, 3],
        [5, 1],
      ],
      (w, h) => `P6 ${w}\t${h}\r\n255 `,
    );
    const { parser, got } = collect();
    for (let i = 0; i < s.bytes.length; i += 3) parser.push(s.bytes.subarray(i, i + 3));
    expect(got.map((g) => [g.h.width, g.h.height])).toEqual([
      [2, 3],
      [5, 1],
    ]);
    expect(got[1].data.equals(s.frames[1].data)).toBe(true);
  });

  it('a skipped frame (begin returns null) is passed over and the next one still parses', () => {
    const { parser, got } = collect((_h, i) => i === 1);
    for (let i = 0; i < bytes.length; i += 5) parser.push(bytes.subarray(i, i + 5));
    expect(got.map((g) => [g.h.width, g.h.height])).toEqual([
      [4, 2],
      [3, 5],
      [1, 1],
    ]);
    expect(got[1].data.equals(frames[2].data)).toBe(true);
  });

  it('with the single reused buffer of FrameSource, a size change reallocates', () => {
    const pool = singleBuffer();
    const a = pool.take(24, 0);
    expect(pool.take(24, 1)).toBe(a);
    const b = pool.take(45, 2);
    expect(b).not.toBe(a);
    expect(b!.length).toBe(45);
  });

  it('refuses what is not PPM', () => {
    const { parser } = collect();
    expect(() => parser.push(Buffer.from('GIF89a....'))).toThrow(/not a PPM stream/);
    const { parser: p2 } = collect();
    expect(() => p2.push(Buffer.from('P6\n4 2\n65535\n'))).toThrow(/maxval 65535/);
    const { parser: p3 } = collect();
    expect(() => p3.push(Buffer.from(`P6${'1'.repeat(100)}`))).toThrow(/header too long/);
  });
});

describe('classifyStderr', () => {
  it('maps typical RTSP failures', () => {
    const c = (line: string) => classifyStderr(['[rtsp @ 0x55d] something first', line])?.code;
    expect(c('[rtsp @ 0x55d] method DESCRIBE failed: 401 Unauthorized')).toBe('auth');
    expect(c('[rtsp @ 0x55d] method DESCRIBE failed: 404 Not Found')).toBe('not_found');
    expect(c('[tcp @ 0x55d] Connection to tcp://192.0.2.1:554?timeout=5000000 failed: Connection refused')).toBe('refused');
    expect(c('[tcp @ 0x55d] Connection to tcp://192.0.2.1:554 failed: No route to host')).toBe('unreachable');
    expect(c('[tcp @ 0x55d] Connection to tcp://192.0.2.1:554 failed: Connection timed out')).toBe('timeout');
    expect(c('[rtsp @ 0x55d] method SETUP failed: 461 Unsupported transport')).toBe('unsupported');
    expect(classifyStderr(['nothing to see'])).toBeNull();
    expect(classifyStderr([])).toBeNull();
  });

  it('the last matching line wins, and the reason quotes it', () => {
    const r = classifyStderr(['x: No such file or directory', 'rtsp://h/x: Connection refused']);
    expect(r).toEqual({
      code: 'refused',
      reason: 'connection refused (nothing listening on that port)',
      line: 'rtsp://h/x: Connection refused',
    });
  });

  it('ffmpegError falls back to the last line, or the fallback text', () => {
    const e = ffmpegError('cam-1', ['', 'weird thing happened  ', ''], 'ffmpeg exited with code 1');
    expect(e).toBeInstanceOf(DeviceError);
    expect(e.code).toBe('protocol');
    expect(e.message).toBe('cam-1: ffmpeg exited with code 1: weird thing happened');
    expect(ffmpegError('cam-1', [], 'stopped').message).toBe('cam-1: stopped');
  });

  // Field finding: a killed RTSP server's first reason was the muxer's complaint about the
  // last half-delivered packet, quoted as if it were the cause.
  it('a stream that ended is "stream ended", never the muxer noise about its last packet', () => {
    const dts =
      '[out#0/image2pipe @ 0x5] Application provided invalid, non monotonically increasing dts to muxer in stream 0: 1466 >= 1458';
    const ended = ffmpegError('cam-1', [dts], 'ffmpeg exited with code 0', [], true);
    expect(ended.code).toBe('ended');
    expect(ended.message).toBe('cam-1: stream ended (server closed the connection)');
    // Not known to have ended on its own: the fallback, without the noise.
    expect(ffmpegError('cam-1', [dts], 'ffmpeg exited with code 1').message).toBe('cam-1: ffmpeg exited with code 1');
    expect(classifyStderr(['[tcp @ 0x5] Connection reset by peer'])?.code).toBe('ended');
    // A cause ffmpeg did name still wins over "ended".
    expect(ffmpegError('cam-1', ['x: Connection refused'], 'ffmpeg exited with code 0', [], true).code).toBe('refused');
  });

  const ffmpegStderr = (args: string[]) =>
    new Promise<string[]>((ok) =>
      execFile('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', ...args], { timeout: 20_000 }, (_e, _o, err) =>
        ok(err.split('\n')),
      ),
    );

  it.runIf(hasFfmpeg)('real ffmpeg on a missing file: not_found', async () => {
    const missing = join(tmp, 'no-such-clip.mp4');
    const lines = await ffmpegStderr(['-i', missing, '-f', 'null', '-']);
    const r = classifyStderr(lines);
    expect(r?.code).toBe('not_found');
    expect(r?.line).toContain(missing);
  });

  it.runIf(hasFfmpeg)('real ffmpeg on a text file: protocol (invalid data)', async () => {
    const txt = join(tmp, 'notes.mp4');
    writeFileSync(txt, 'this is not a video\n'.repeat(50));
    const r = classifyStderr(await ffmpegStderr(['-i', txt, '-f', 'null', '-']));
    expect(r?.code).toBe('protocol');
    expect(r?.line).toMatch(/Invalid data found/);
  });

  it.runIf(hasFfmpeg)('real ffmpeg on a closed RTSP port: refused', async () => {
    const r = classifyStderr(
      await ffmpegStderr(['-rtsp_transport', 'tcp', '-timeout', '3000000', '-i', 'rtsp://127.0.0.1:9/none', '-f', 'null', '-']),
    );
    expect(r?.code).toBe('refused');
  });
});

describe.runIf(hasFfmpeg)('FrameSource on a real clip', () => {
  // testsrc2, 640x360, 10 fps, a key frame every 10 frames (1 s), 6 s long.
  const clip = () => makeClip({ codec: 'h264', width: 640, height: 360, fps: 10, gopSeconds: 1, seconds: 6 });

  async function grab(opts: Partial<FrameSourceOptions>, ms: number) {
    const src = new FrameSource('cam-test', { ...base, url: await clip(), ...opts });
    const frames: { w: number; h: number; ts: number; bytes: number; mean: number }[] = [];
    src.on('frame', (h, data, ts) => {
      let sum = 0;
      for (let i = 0; i < data.length; i += 97) sum += data[i];
      frames.push({ w: h.width, h: h.height, ts, bytes: data.length, mean: sum / Math.ceil(data.length / 97) });
    });
    const exited = new Promise<DeviceError>((ok) => src.once('exit', (e) => ok(e)));
    src.start();
    await new Promise((r) => setTimeout(r, ms));
    expect(src.pid).toBeGreaterThan(0);
    await src.stop();
    const err = await exited;
    return { frames, err, src };
  }

  it('key frames only: about one frame per second, 416 wide with the aspect kept', async () => {
    const { frames, err, src } = await grab({}, 4000);
    expect(frames.length).toBeGreaterThanOrEqual(3);
    expect(frames.length).toBeLessThanOrEqual(6);
    for (const f of frames) {
      expect(f.w).toBe(416);
      expect(f.h).toBe(234); // 360 * 416 / 640
      expect(f.w / f.h).toBeCloseTo(640 / 360, 1);
      expect(f.bytes).toBe(416 * 234 * 3);
      expect(f.mean).toBeGreaterThan(5); // a picture, not black
    }
    // Real-time pacing: the frames are spread over the seconds, not delivered at once.
    const span = frames.at(-1)!.ts - frames[0].ts;
    expect(span / (frames.length - 1)).toBeGreaterThan(600);
    expect(span / (frames.length - 1)).toBeLessThan(1500);
    expect(err.message).toBe('cam-test: stopped');
    expect(src.pid).toBeUndefined();
  });

  it('every frame: about ten per second', async () => {
    const { frames } = await grab({ keyFramesOnly: false }, 3000);
    expect(frames.length).toBeGreaterThanOrEqual(18);
    expect(frames.length).toBeLessThanOrEqual(40);
    expect(frames.every((f) => f.w === 416 && f.h === 234)).toBe(true);
    const perSecond = ((frames.length - 1) * 1000) / (frames.at(-1)!.ts - frames[0].ts);
    expect(perSecond).toBeGreaterThan(6);
    expect(perSecond).toBeLessThan(15);
  });

  it('stretch fills the requested size', async () => {
    const { frames } = await grab({ fit: 'stretch', width: 320, height: 320 }, 1500);
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.every((f) => f.w === 320 && f.h === 320)).toBe(true);
  });

  it('a missing file exits with a not_found DeviceError naming the camera', async () => {
    const src = new FrameSource('cam-missing', { ...base, url: join(tmp, 'gone.mp4') });
    const exit = new Promise<[DeviceError, number | null]>((ok) => src.once('exit', (e, code) => ok([e, code])));
    src.start();
    const [err, code] = await exit;
    expect(code).not.toBe(0);
    expect(err).toBeInstanceOf(DeviceError);
    expect(err.code).toBe('not_found');
    expect(err.device).toBe('cam-missing');
    expect(err.message).toContain('gone.mp4');
    expect(src.recentStderr().join('\n')).toContain('No such file or directory');
  });

  it('a missing ffmpeg binary is reported, not thrown', async () => {
    const src = new FrameSource('cam-x', { ...base, url: await clip(), ffmpegPath: join(tmp, 'no-ffmpeg') });
    const err = await new Promise<DeviceError>((ok) => {
      src.once('exit', (e) => ok(e));
      src.start();
    });
    expect(err).toBeInstanceOf(DeviceError);
    expect(src.recentStderr().join('\n')).toContain('spawn ffmpeg failed');
  });
});
