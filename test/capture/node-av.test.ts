/**
 * The in-process decoder (`decoder: node-av`): a file camera and a real RTSP camera (the
 * GStreamer server) give frames at the analysis interval, not at the key-frame rate, at the
 * detector's size and with the same pixels ffmpeg gives; a killed server reconnects; and a
 * parked car through the real pipeline becomes its event. A file is read on the gateway's own
 * thread, so its packets keep coming while libuv's thread pool is held by other work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { close, closeSync, mkdtempSync, open, openSync, rmSync, stat } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { havePeers } from '../peers/require.ts';
import { RTSP_PEERS, startRtspServer, type RtspServer } from '../peers/rtsp.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { makeClip } from '../peers/media.ts';
import { cameraSettings, watch, type Watched } from './helpers.ts';
import { FrameSource, type FrameSourceOptions } from '../../devices/ffmpeg/frames.ts';
import { NodeAvSource, loadNodeAv } from '../../devices/ffmpeg/node-av.ts';
import { compareTimeline, runScenarios } from '../../scripts/scenario-run.ts';
import type { ExpectedEvent } from '../../scripts/scenario.ts';

const haveNodeAv = await loadNodeAv().then(
  () => true,
  () => false,
);
if (process.env.CI === 'true' && !haveNodeAv) throw new Error('node-av does not load (npm install node-av)');
const ok = haveNodeAv && havePeers(...RTSP_PEERS, 'mosquitto');

/** Seconds between consecutive frames. */
const gaps = (w: Watched) => w.frames.slice(1).map((f, i) => (f.ts - w.frames[i].ts) / 1000);

/** The first frame a source gives, as a copy. */
function firstFrame(src: FrameSource | NodeAvSource): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const failed = (e: Error) => fail(e);
    src.once('exit', failed);
    src.once('frame', (_h, data) => {
      src.off('exit', failed);
      const copy = Buffer.from(data);
      void src.stop().then(() => ok(copy));
    });
    src.start();
  });
}

describe.runIf(ok)('node-av decoder', () => {
  let server: RtspServer;
  let clip: string;
  const running: Watched[] = [];
  const start = (w: Watched) => (running.push(w), w.capture.start(), w);

  beforeAll(async () => {
    // A camera's usual stream: 25 fps, a key frame every second.
    clip = await makeClip({ codec: 'h264', gopSeconds: 1, seconds: 10, fps: 25 });
    server = await startRtspServer({ mounts: { '/sub': clip } });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.map((w) => w.capture.stop()));
    await server?.stop();
  });

  it('a file camera: one frame per 2 s interval (half the key frames), 416x234', async () => {
    const w = start(watch(cameraSettings({ id: 'file', url: clip, interval_s: 2, decoder: 'node-av' })));
    await w.until((h) => h.state === 'online', 10_000, 'online');
    await w.frames_(4, 15_000);
    expect(w.frames.every((f) => f.width === 416 && f.height === 234)).toBe(true);
    // Key frames come every second; only every second one is decoded.
    for (const g of gaps(w)) {
      expect(g).toBeGreaterThan(1.7);
      expect(g).toBeLessThan(2.6);
    }
  }, 30_000);

  it('the same pixels as the ffmpeg path (colour conversion and scaling agree)', async () => {
    const o: FrameSourceOptions = { url: clip, width: 416, height: 416, fit: 'fit', clock: 'media', periodS: 1 };
    const [a, b] = [await firstFrame(new FrameSource('ff', o)), await firstFrame(new NodeAvSource('av', o))];
    expect(b.length).toBe(a.length);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff += Math.abs(a[i] - b[i]);
    // Not bit-exact (no deblocking, a different scaler path), but the same picture.
    expect(diff / a.length).toBeLessThan(4);
  }, 30_000);

  it('an RTSP camera: frames at the interval, and a killed server reconnects with back-off', async () => {
    const w = start(
      watch(cameraSettings({ id: 'rtsp-av', url: server.url('/sub'), interval_s: 2, decoder: 'node-av' }), {
        backoff: { baseMs: 300, maxMs: 600 },
      }),
    );
    await w.until((h) => h.state === 'online', 20_000, 'online');
    await w.frames_(3, 15_000);
    expect(w.frames.at(-1)).toMatchObject({ width: 416, height: 234 });
    for (const g of gaps(w)) expect(g).toBeGreaterThan(1.7);
    server.kill();
    const down = await w.until((h) => h.state !== 'online', 20_000, 'failure');
    expect(down.reason).toBe('stream ended (server closed the connection)');
    expect(down.code).toBe('ended');
    const next = await w.until((h) => h.code === 'refused', 20_000, 'connection refused');
    expect(next.reason).toMatch(/^connection refused/);
    await server.restart();
    await w.until((h) => h.state === 'online' && h.restarts > 0, 30_000, 'online again');
    const before = w.frames.length;
    await w.frames_(1, 15_000);
    expect(w.frames.length).toBeGreaterThan(before);
  }, 90_000);

  it('wrong credentials: "auth failed", naming neither the password', async () => {
    const locked = await startRtspServer({ mounts: { '/sub': clip }, user: 'admin', password: 'right-Pa55' });
    try {
      const w = start(
        watch(cameraSettings({ id: 'badpw', url: locked.url('/sub'), username: 'admin', password: 'wrong-Pa55', decoder: 'node-av' })),
      );
      const h = await w.until((x) => x.code === 'auth', 20_000, 'auth failure');
      expect(h.reason).toMatch(/auth failed/);
      expect(h.reason).not.toContain('wrong-Pa55');
      await w.capture.stop();
    } finally {
      await locked.stop();
    }
  }, 60_000);
});

describe.runIf(ok)('node-av decoder through the real pipeline', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('parking-row: the three parked cars become their illegal_parking events, on time', async () => {
    const results = await runScenarios(['parking-row'], { mqttUrl: broker.url, camera: { decoder: 'node-av', still_max_s: 0 } });
    const r = results.get('parking-row')!;
    // The whole video, one frame per second of it (the still gate is off: every frame inferred).
    expect(r.frames.length).toBeGreaterThanOrEqual(r.scenario.duration_s - 2);
    expect(compareTimeline((r.scenario.expect ?? []) as ExpectedEvent[], r.events)).toEqual([]);
    expect(r.events.map((e) => e.type)).toEqual(['illegal_parking', 'illegal_parking', 'illegal_parking']);
  }, 240_000);
});

describe.runIf(haveNodeAv && havePeers('ffmpeg'))('node-av reading a file', () => {
  it("goes on reading in real time while libuv's thread pool is held by other work", async () => {
    const clip = await makeClip({ codec: 'h264', gopSeconds: 1, seconds: 10, fps: 25 });
    // After its first frame the camera is never due again: every packet is only read (a due
    // key frame is decoded through the pool, and would wait there).
    let taken = false;
    const pool = { take: (size: number) => (taken ? null : ((taken = true), Buffer.alloc(size))) };
    const src = new NodeAvSource('busy', { url: clip, width: 416, height: 416, fit: 'fit', periodS: 1 }, pool);
    const dir = mkdtempSync(join(tmpdir(), 'gw-pool-'));
    const fifos = Array.from({ length: Number(process.env.UV_THREADPOOL_SIZE ?? 4) }, (_x, i) => join(dir, `f${i}`));
    execFileSync('mkfifo', fifos);
    try {
      await new Promise<void>((ok, fail) => {
        src.once('frame', () => ok());
        src.once('exit', (e) => fail(e));
        src.start();
      });
      // Each open of a FIFO with no writer holds one of the pool's threads: all are held.
      for (const f of fifos) open(f, 'r', (_e, fd) => fd !== undefined && close(fd, () => {}));
      let statDone = false;
      stat(dir, () => (statDone = true));
      const before = src.skipped;
      await new Promise((ok) => setTimeout(ok, 2000));
      expect(statDone).toBe(false); // the pool really is held
      // 25 packets a second, read on this thread and dropped undecoded.
      expect(src.skipped - before).toBeGreaterThan(30);
    } finally {
      // A writer lets each blocked open go.
      for (const f of fifos) closeSync(openSync(f, 'w'));
      await src.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
