/**
 * Proves the RTSP test peer with real ffmpeg/ffprobe as the client, and pins the exact
 * stderr text ffmpeg 5.1 prints for each failure, which the gateway classifies.
 */
import { spawn } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClip } from './media.ts';
import { havePeers } from './require.ts';
import { RTSP_PEERS, startRtspServer, type RtspServer } from './rtsp.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Frames written, from ffmpeg's last progress line. */
  frames: number;
}

function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      const all = [...stderr.matchAll(/frame=\s*(\d+)/g)];
      resolve({ code, stdout, stderr, frames: all.length ? Number(all[all.length - 1][1]) : 0 });
    });
  });
}

/** Read n frames without decoding (cheap enough to run many at once). */
const readFrames = (url: string, n: number, transport = 'tcp') =>
  run('ffmpeg', [
    '-hide_banner',
    '-nostdin',
    '-rtsp_transport',
    transport,
    '-timeout',
    '5000000',
    '-i',
    url,
    '-an',
    '-c:v',
    'copy',
    '-frames:v',
    `${n}`,
    '-f',
    'null',
    '-',
  ]);

const probe = async (url: string, transport = 'tcp') => {
  const r = await run('ffprobe', [
    '-v',
    'error',
    '-rtsp_transport',
    transport,
    '-timeout',
    '5000000',
    '-show_entries',
    'stream=codec_name,width,height',
    '-of',
    'json',
    url,
  ]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).streams[0] as { codec_name: string; width: number; height: number };
};

/** ffmpeg's own error lines, without the address that varies per run. */
const errorLines = (r: Run) =>
  r.stderr
    .split('\n')
    .filter((l) => l && !/^\s|^(Input|Output|Stream|Press|frame=|video:)/.test(l))
    .map((l) => l.replace(/ @ 0x[0-9a-f]+/, ''));

/**
 * Bare RTSP-over-TCP client for what ffmpeg cannot be told to do (PAUSE, then PLAY again).
 * send() answers with the reply; rtp() waits for the next RTP packet.
 */
async function rawRtsp(url: string) {
  const u = new URL(url);
  const sock = await new Promise<Socket>((res, rej) => {
    const c = connect(Number(u.port), u.hostname, () => res(c)).once('error', rej);
  });
  let buf = Buffer.alloc(0);
  let last = 0;
  let waiter: (() => void) | null = null;
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    waiter?.();
  });
  const more = () => new Promise<void>((r) => (waiter = r));
  /** Next message off the wire: an interleaved RTP frame (its timestamp) or an RTSP reply. */
  const next = async (): Promise<{ rtp?: number; nal?: number; text: string }> => {
    for (;;) {
      if (buf.length >= 4 && buf[0] === 0x24 && buf.length >= 4 + buf.readUInt16BE(2)) {
        const rtp = buf[1] === 0 ? buf.readUInt32BE(8) : undefined; // channel 0: RTP, 1: RTCP
        const nal = buf[16] & 0x1f; // H.264 NAL type after a 12-byte RTP header
        if (rtp !== undefined) last = rtp;
        buf = buf.subarray(4 + buf.readUInt16BE(2));
        return { rtp, nal, text: '' };
      }
      const end = buf.indexOf('\r\n\r\n');
      if (buf[0] !== 0x24 && end >= 0) {
        const head = buf.subarray(0, end + 4).toString();
        const len = Number(/Content-Length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length >= end + 4 + len) {
          const text = buf.subarray(0, end + 4 + len).toString();
          buf = buf.subarray(end + 4 + len);
          return { text };
        }
      }
      await more();
    }
  };
  let cseq = 0;
  let session = '';
  return {
    async send(method: string, target = url, extra = ''): Promise<string> {
      const sess = session ? `Session: ${session}\r\n` : '';
      sock.write(`${method} ${target} RTSP/1.0\r\nCSeq: ${++cseq}\r\n${sess}${extra}\r\n`);
      for (;;) {
        const m = await next();
        if (m.text.startsWith('RTSP/1.0')) {
          session ||= /Session: ([^;\r]+)/.exec(m.text)?.[1] ?? '';
          return m.text;
        }
      }
    },
    /** RTP timestamp (90 kHz) and first H.264 NAL type of the next RTP packet. */
    async rtp(): Promise<{ ts: number; nal: number }> {
      for (;;) {
        const m = await next();
        if (m.rtp !== undefined) return { ts: m.rtp, nal: m.nal! };
      }
    },
    /** Timestamp of the last RTP packet read so far, e.g. while waiting for a reply. */
    lastRtp: () => last,
    close: () => sock.destroy(),
  };
}

const ok = havePeers(...RTSP_PEERS);

describe.skipIf(!ok)('GStreamer RTSP test peer', () => {
  let h264 = '';
  let h265 = '';
  let srv: RtspServer;
  let auth: RtspServer;
  const report: Record<string, string[]> = {};

  beforeAll(async () => {
    [h264, h265] = await Promise.all([
      makeClip({ codec: 'h264', gopSeconds: 1, seconds: 4 }),
      makeClip({ codec: 'h265', gopSeconds: 1, seconds: 4 }),
    ]);
    [srv, auth] = await Promise.all([
      startRtspServer({ mounts: { '/h264': h264, '/h265': h265 } }),
      startRtspServer({ mounts: { '/cam': h264 }, user: 'admin', password: 'pa:ss w@rd' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([srv?.stop(), auth?.stop()]);
    // What ffmpeg prints per failure, for the gateway's stderr classifier.
    console.log(JSON.stringify(report, null, 2));
  });

  it('serves H.264 over TCP, looping past the end of the 4 s file', async () => {
    expect(await probe(srv.url('/h264'))).toEqual({ codec_name: 'h264', width: 640, height: 360 });
    const r = await readFrames(srv.url('/h264'), 110); // 4.4 s at 25 fps
    expect(r.code, r.stderr).toBe(0);
    expect(r.frames).toBe(110);
    // The loop must not rewind the clock (ffmpeg's muxer would complain).
    expect(r.stderr).not.toMatch(/non monotonically|Non-monotonous/);
  });

  it('serves H.264 over UDP', async () => {
    const r = await readFrames(srv.url('/h264'), 25, 'udp');
    report.udp_ok = errorLines(r);
    expect(r.code, r.stderr).toBe(0);
    expect(r.frames).toBe(25);
  });

  it('serves H.265 over TCP', async () => {
    expect(await probe(srv.url('/h265'))).toEqual({ codec_name: 'hevc', width: 640, height: 360 });
  });

  it('resumes at a fresh key frame after PAUSE then PLAY', async () => {
    // PAUSE stops the media's clock while the feeder's wall clock runs on. Frames must not
    // queue up during the pause (stale replay, then a stall once the queue overflows), nor
    // be stamped ahead of the restarted clock (parks the sinks, stalls every client).
    const c = await rawRtsp(srv.url('/h264'));
    try {
      const sdp = await c.send('DESCRIBE', undefined, 'Accept: application/sdp\r\n');
      const control = /m=video[\s\S]*?a=control:(\S+)/.exec(sdp)![1];
      const track = control.startsWith('rtsp:') ? control : `${srv.url('/h264')}/${control}`;
      expect(await c.send('SETUP', track, 'Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n')).toMatch(/^RTSP\/1.0 200/);
      await c.send('PLAY');
      await c.rtp();
      expect(await c.send('PAUSE')).toMatch(/^RTSP\/1.0 200/);
      await c.send('GET_PARAMETER'); // drains packets sent just before the pause
      const before = c.lastRtp();
      await new Promise((r) => setTimeout(r, 3000));
      await c.send('PLAY');
      const t0 = Date.now();
      const first = await c.rtp();
      expect(Date.now() - t0).toBeLessThan(2000); // within the 1 s GOP, plus slack
      expect([5, 7, 24]).toContain(first.nal); // IDR, SPS, or STAP-A (SPS+PPS), not a stale P
      expect(first.ts).toBeGreaterThan(before);
    } finally {
      c.close();
    }
  });

  it('reads key frames only with the gateway capture flags', async () => {
    const r = await run('ffmpeg', [
      '-hide_banner',
      '-nostdin',
      '-rtsp_transport',
      'tcp',
      '-timeout',
      '5000000',
      '-skip_frame',
      'nokey',
      '-i',
      srv.url('/h264'),
      '-an',
      '-fps_mode',
      'passthrough',
      '-t',
      '3',
      '-f',
      'null',
      '-',
    ]);
    expect(r.code, r.stderr).toBe(0);
    // 1 s GOP: about one frame per second instead of 25.
    expect(r.frames).toBeGreaterThanOrEqual(2);
    expect(r.frames).toBeLessThanOrEqual(4);
  });

  it('accepts the right credentials and rejects wrong or missing ones with 401', async () => {
    const good = await readFrames(auth.url('/cam', true), 5);
    expect(good.code, good.stderr).toBe(0);
    for (const [name, url] of [
      ['wrong_password', auth.url('/cam', { user: 'admin', password: 'nope' })],
      ['no_credentials', auth.url('/cam')],
    ]) {
      const r = await readFrames(url, 5);
      report[name] = errorLines(r);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('method DESCRIBE failed: 401 Unauthorized');
      expect(r.stderr).toContain(': Server returned 401 Unauthorized (authorization failed)');
    }
  });

  it('answers 404 for an unknown mount', async () => {
    const r = await readFrames(srv.url('/nope'), 5);
    report.unknown_mount = errorLines(r);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('method DESCRIBE failed: 404 Not Found');
    expect(r.stderr).toContain(`${srv.url('/nope')}: Server returned 404 Not Found`);
  });

  it('comes back on the same port after a crash', async () => {
    const s = await startRtspServer({ mounts: { '/cam': h264 } });
    try {
      s.kill();
      await new Promise((r) => setTimeout(r, 200));
      const down = await readFrames(s.url('/cam'), 5);
      report.connection_refused = errorLines(down);
      expect(down.code).not.toBe(0);
      expect(down.stderr).toContain(`Connection to tcp://127.0.0.1:${s.port}?timeout=5000000 failed: Connection refused`);
      expect(down.stderr).toContain(`${s.url('/cam')}: Connection refused`);
      await s.restart();
      const up = await readFrames(s.url('/cam'), 10);
      expect(up.code, up.stderr).toBe(0);
    } finally {
      await s.stop();
    }
  });

  it('serves 16 mounts of one file at once', async () => {
    const mounts = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`/cam${i + 1}`, h264]));
    const s = await startRtspServer({ mounts, phases: 4 }); // 4 medias of 4 mounts each
    try {
      const runs = await Promise.all(Object.keys(mounts).map((m, i) => readFrames(s.url(m), 10, i % 2 ? 'udp' : 'tcp')));
      for (const r of runs) expect(r.code, r.stderr).toBe(0);
      expect(runs.map((r) => r.frames)).toEqual(Array(16).fill(10));
    } finally {
      await s.stop();
    }
  });

  it('rejects the transport it does not offer', async () => {
    const s = await startRtspServer({ mounts: { '/cam': h264 }, transport: 'tcp' });
    try {
      const r = await readFrames(s.url('/cam'), 5, 'udp');
      report.udp_to_tcp_only_server = errorLines(r);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('method SETUP failed: 461 Unsupported transport');
    } finally {
      await s.stop();
    }
  });

  it('times out on a peer that accepts but never answers', async () => {
    // Stands in for an unreachable camera: this sandbox's network accepts any outbound
    // connection, so a real black-hole address cannot be reproduced here.
    const sockets: Socket[] = [];
    const silent: Server = createServer((c) => sockets.push(c));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const t0 = Date.now();
      const r = await run('ffmpeg', [
        '-hide_banner',
        '-nostdin',
        '-rtsp_transport',
        'tcp',
        '-timeout',
        '2000000',
        '-i',
        `rtsp://127.0.0.1:${port}/x`,
        '-an',
        '-f',
        'null',
        '-',
      ]);
      report.silent_peer = errorLines(r);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`rtsp://127.0.0.1:${port}/x: Invalid data found when processing input`);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    } finally {
      sockets.forEach((c) => c.destroy());
      silent.close();
    }
  });

  it('records what an unreachable host looks like here', async () => {
    const r = await run('ffmpeg', [
      '-hide_banner',
      '-nostdin',
      '-rtsp_transport',
      'tcp',
      '-timeout',
      '2000000',
      '-i',
      'rtsp://10.255.255.1:554/x',
      '-an',
      '-f',
      'null',
      '-',
    ]);
    report.unreachable_10_255_255_1 = errorLines(r);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Connection timed out|No route to host|Network is unreachable|Invalid data found/);
  });
});
