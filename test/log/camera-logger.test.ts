/**
 * Per-camera code logs through a child logger: every line of a camera's capture, its
 * pipeline and its clip ring names the part and the camera, and an error keeps its stack
 * under `err`. Real ffmpeg feeds the capture and the ring; a real detector queue whose
 * model throws makes the pipeline log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pino from 'pino';
import { havePeers } from '../peers/require.ts';
import { freePort } from '../peers/ports.ts';
import { makeClip } from '../peers/media.ts';
import { cameraSettings } from '../capture/helpers.ts';
import { settingsAt, tempDir } from '../helpers/gateway.ts';
import { CameraCapture } from '../../gateway/capture/camera.ts';
import { ClipRing } from '../../gateway/evidence/ring.ts';
import { CameraPipeline } from '../../gateway/pipeline.ts';
import { DetectQueue } from '../../gateway/detect/queue.ts';
import type { Detector } from '../../gateway/detect/types.ts';
import type { Manifest } from '../../gateway/detect/manifest.ts';
import type { Context } from '../../gateway/context.ts';
import type { EventService } from '../../gateway/events/service.ts';
import { systemClock } from '../../gateway/clock.ts';

const ok = havePeers('ffmpeg');

interface Line {
  raw: string;
  level: number;
  msg: string;
  part?: string;
  camera?: string;
  err?: { message: string; stack: string };
}

/** A pino logger writing into an array, as the daemon's logger would write to stdout. */
function captured() {
  const lines: Line[] = [];
  const waiters: (() => void)[] = [];
  const log = pino(
    { level: 'debug', base: undefined },
    {
      write(s: string) {
        lines.push({ ...JSON.parse(s), raw: s });
        for (const w of waiters.splice(0)) w();
      },
    },
  );
  const until = (pred: (l: Line) => boolean, what: string, timeoutMs = 20_000) =>
    new Promise<Line>((done, fail) => {
      const t = setTimeout(() => fail(new Error(`no log line ${what}; got ${JSON.stringify(lines.map((l) => l.msg))}`)), timeoutMs);
      const check = () => {
        const l = lines.find(pred);
        if (l) {
          clearTimeout(t);
          done(l);
        } else waiters.push(check);
      };
      check();
    });
  return { log, lines, until };
}

/** The part key appears once in the JSON line (a child of a child must not repeat it). */
const partsIn = (raw: string) => raw.match(/"part":/g)?.length ?? 0;

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
});

describe.runIf(ok)('per-camera child loggers', () => {
  it('a capture whose camera refuses the connection logs with part "capture" and its camera', async () => {
    const { log, lines, until } = captured();
    const port = await freePort();
    const capture = new CameraCapture({
      camera: cameraSettings({ id: 'cam-refused', url: `rtsp://127.0.0.1:${port}/x` }),
      width: 64,
      height: 64,
      fit: 'fit',
      log,
      backoff: { baseMs: 5000, maxMs: 5000 },
      onFrame: (f) => f.release(),
      onHealth: () => {},
    });
    stops.push(() => capture.stop());
    capture.start();
    const line = await until((l) => l.msg === 'camera reconnecting', 'camera reconnecting');
    expect(line).toMatchObject({ part: 'capture', camera: 'cam-refused' });
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) {
      expect(l).toMatchObject({ part: 'capture', camera: 'cam-refused' });
      expect(partsIn(l.raw)).toBe(1);
    }
  });

  it('a clip ring whose stream is missing logs with part "evidence" and its camera', async () => {
    const { log, lines, until } = captured();
    const dir = tempDir('gw-ring-log-');
    const ring = new ClipRing({
      camera: 'cam-ring',
      url: join(dir, 'no-such-video.mp4'),
      transport: 'tcp',
      dir: join(dir, 'ring'),
      segmentS: 1,
      keepS: 4,
      log,
    });
    stops.push(() => ring.stop());
    ring.start();
    const line = await until((l) => l.msg === 'clip ring: ffmpeg stopped; restarting', 'clip ring restarting');
    expect(line).toMatchObject({ part: 'evidence', camera: 'cam-ring' });
    for (const l of lines) expect(l).toMatchObject({ part: 'evidence', camera: 'cam-ring' });
  });

  it('a pipeline whose model throws logs the error\'s stack with part "pipeline"; its capture says "capture"', async () => {
    const { log, lines, until } = captured();
    const clip = await makeClip({ codec: 'h264', seconds: 4, width: 320, height: 180 });
    const dir = tempDir('gw-pipe-log-');
    const config = settingsAt(
      dir,
      `
gateway: { id: gw-log, data_dir: ${dir}/data }
mqtt: { url: 'mqtt://127.0.0.1:1', prefix: t }
cameras:
  - { id: cam-pipe, url: '${clip}', location: { lat: 0, lon: 0 }, interval_s: 0.5 }
`,
    );
    const broken: Detector = {
      manifest: { id: 'broken' } as Manifest,
      maxBatch: 1,
      detectBatch: () => Promise.reject(new Error('the model broke')),
      release: () => Promise.resolve(),
    };
    // The pipeline reads settings, the clock and the logger from the context; nothing here publishes.
    const ctx = { config, log, clock: systemClock } as Context;
    const pipeline = new CameraPipeline({
      ctx,
      camera: config.settings.cameras[0],
      rules: [],
      events: { isSuppressed: () => false } as unknown as EventService,
      onHealth: () => {},
      queues: [new DetectQueue({ model: broken, capacity: 2 })],
      input: { width: 64, height: 64, fit: 'fit' },
    });
    stops.push(() => pipeline.stop());
    pipeline.start();
    const failed = await until((l) => l.msg === 'detection failed', 'detection failed');
    expect(failed).toMatchObject({ part: 'pipeline', camera: 'cam-pipe' });
    expect(failed.err?.message).toBe('the model broke');
    expect(failed.err?.stack).toMatch(/Error: the model broke\n\s+at /);
    const online = await until((l) => l.msg === 'camera online', 'camera online');
    expect(online).toMatchObject({ part: 'capture', camera: 'cam-pipe' });
    for (const l of lines) {
      expect(l.camera).toBe('cam-pipe');
      expect(partsIn(l.raw)).toBe(1);
    }
  });
});
