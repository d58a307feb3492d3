/**
 * RTSP ingest against the real GStreamer RTSP server: H.264 and H.265, TCP and UDP, key
 * frames only, and the faults cameras really have: a server that dies and comes back, a
 * wrong password, nothing listening, no route, a stream that stalls. One camera's failure
 * never touches another.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { havePeers } from '../peers/require.ts';
import { RTSP_PEERS, startRtspServer, type RtspServer } from '../peers/rtsp.ts';
import { makeClip } from '../peers/media.ts';
import { cameraSettings, watch, type Watched } from './helpers.ts';

const ok = havePeers(...RTSP_PEERS);
const USER = 'admin';
const PASS = 'Hik:vision 12@';

describe.runIf(ok)('RTSP ingest with the real GStreamer server', () => {
  let server: RtspServer;
  const running: Watched[] = [];
  const start = (w: Watched) => (running.push(w), w.capture.start(), w);

  beforeAll(async () => {
    const [h264, h265] = await Promise.all([
      makeClip({ codec: 'h264', gopSeconds: 1, seconds: 10 }),
      makeClip({ codec: 'h265', gopSeconds: 1, seconds: 10 }),
    ]);
    server = await startRtspServer({ mounts: { '/sub': h264, '/h265': h265 }, user: USER, password: PASS, transport: 'both' });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.map((w) => w.capture.stop()));
    await server?.stop();
  });

  const cam = (id: string, mount: string, extra: object = {}) =>
    cameraSettings({ id, url: server.url(mount), username: USER, password: PASS, ...extra });

  it('H.264 over TCP: key frames only, scaled in ffmpeg, online with a frame rate', async () => {
    const w = start(watch(cam('h264', '/sub')));
    await w.until((h) => h.state === 'online', 20_000, 'online');
    await w.frames_(3, 15_000);
    const f = w.frames.at(-1)!;
    expect([f.width, f.height]).toEqual([416, 234]);
    // A 1 s GOP decoded key frames only: about one frame a second, not 25.
    const span = (w.frames.at(-1)!.ts - w.frames.at(-3)!.ts) / 1000;
    expect(span).toBeGreaterThan(1.2);
    expect(w.capture.snapshot().framesPerMinute).toBeGreaterThanOrEqual(3);
  });

  it('H.265 over TCP', async () => {
    const w = start(watch(cam('h265', '/h265')));
    await w.frames_(2, 25_000);
    expect(w.frames.at(-1)!.width).toBe(416);
  });

  it('H.264 over UDP', async () => {
    const w = start(watch(cam('udp', '/sub', { transport: 'udp' })));
    await w.frames_(2, 25_000);
    expect(w.capture.snapshot().state).toBe('online');
  });

  it('wrong credentials show "auth failed", without the password', async () => {
    const w = start(watch(cameraSettings({ id: 'badpw', url: server.url('/sub'), username: USER, password: 'wrong-Pa55' })));
    const h = await w.until((x) => x.code === 'auth', 20_000, 'auth failure');
    expect(h.reason).toMatch(/auth failed/);
    expect(h.reason).not.toContain('wrong-Pa55');
    expect(['reconnecting', 'offline']).toContain(h.state);
    await w.until((x) => x.state === 'offline', 20_000, 'offline after repeated failures');
  });

  it('an unknown stream path shows "not found"', async () => {
    const w = start(watch(cam('nopath', '/nope')));
    const h = await w.until((x) => x.code === 'not_found', 20_000, 'not found');
    expect(h.reason).toMatch(/not found/);
  });

  it('nothing listening shows "refused", then offline', async () => {
    const w = start(watch(cameraSettings({ id: 'refused', url: 'rtsp://127.0.0.1:9/stream' })));
    const h = await w.until((x) => x.state === 'offline', 20_000, 'offline');
    expect(h.code).toBe('refused');
    expect(h.reason).toMatch(/connection refused/);
  });

  it('an unreachable host shows offline with the reason', async () => {
    // 100::/64 is the IPv6 discard prefix: no route anywhere.
    const w = start(watch(cameraSettings({ id: 'noroute', url: 'rtsp://[100::1]:554/stream' })));
    const h = await w.until((x) => x.state === 'offline', 30_000, 'offline');
    expect(h.code).toBe('unreachable');
    expect(h.reason).toMatch(/unreachable/);
  });

  it('recovers when the server dies mid-stream and comes back, while another camera is unaffected', async () => {
    const a = start(watch(cam('restart-a', '/sub')));
    await a.frames_(2, 20_000);
    server.kill();
    await a.until((h) => h.state === 'reconnecting', 20_000, 'reconnecting');
    await server.restart();
    const back = Date.now();
    await a.until((h) => h.state === 'online', 30_000, 'online again');
    await a.frames_(2, 15_000);
    // Backoff is capped (1.5 s here) and the first key frame follows within a GOP.
    expect(Date.now() - back).toBeLessThan(25_000);
    expect(a.capture.snapshot().restarts).toBeGreaterThanOrEqual(1);
  });

  it('a stalled stream (the server frozen) is restarted by the watchdog', async () => {
    const w = start(watch(cam('stall', '/sub', { stall_s: 3 })));
    await w.frames_(2, 20_000);
    const pid = server.pid()!;
    process.kill(pid, 'SIGSTOP');
    try {
      const h = await w.until((x) => x.state !== 'online', 15_000, 'stall detected');
      expect(h.code).toBe('timeout');
      expect(h.reason).toMatch(/no frame for \d+ s/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await w.until((x) => x.state === 'online', 30_000, 'online after the stall');
  });

  it("one camera's failure never stops another's frames", async () => {
    const good = start(watch(cam('good', '/sub')));
    const bad = start(watch(cameraSettings({ id: 'bad', url: 'rtsp://127.0.0.1:9/x' })));
    await Promise.all([good.frames_(2, 20_000), bad.until((h) => h.state === 'offline', 20_000, 'bad offline')]);
    const before = good.frames.length;
    await good.frames_(2, 10_000);
    expect(good.frames.length).toBeGreaterThan(before);
    expect(good.capture.snapshot().state).toBe('online');
  });
});
