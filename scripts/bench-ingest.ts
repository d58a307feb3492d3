/**
 * Ingest cost per camera, in figures (not a test): N copies of a 640x360, 25 fps, 2 s-GOP
 * H.264 stream served by the GStreamer RTSP server, read three ways:
 *   gateway   the gateway's own ingest (CameraCapture: key frames only, scaled in ffmpeg,
 *             PPM on a pipe, parsed into pooled buffers), detection off
 *   its ffmpeg  the gateway's own ffmpeg command alone, frames written to /dev/null: what
 *             the gateway adds on top of its ffmpeg (reading the pipe, parsing, pooling)
 *   bare      ffmpeg -skip_frame nokey on the same streams, output discarded: decoding
 *             only, no scaling, no RGB
 *   full@5    the usual NVR way: decode every frame, keep 5 fps, scale, output raw frames
 * CPU is read from /proc for every ffmpeg child plus this process (for the gateway).
 *
 *   node --import tsx scripts/bench-ingest.ts [--n 16,64,134] [--seconds 20]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startRtspServer } from '../test/peers/rtsp.ts';
import { makeClip } from '../test/peers/media.ts';
import { CameraCapture } from '../gateway/capture/camera.ts';
import { silentLogger } from '../gateway/log.ts';
import { cameraSettings } from '../test/capture/helpers.ts';
import { frameSourceArgs } from '../devices/ffmpeg/frames.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '16,64,134' },
    seconds: { type: 'string', default: '12' },
    warmup: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '3' },
  },
});
// CPU figures on a shared 2-core box drift with whatever else runs: each mode is measured
// `rounds` times, interleaved, and the median is reported.
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const TICK = 100; // clock ticks per second on Linux

function cpuTicks(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]); // utime + stime
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Result {
  mode: string;
  n: number;
  cpuPerCamera: number; // % of one core
  nodePerCamera?: number; // of which the gateway's Node process
  framesPerCamera: number; // frames per second delivered
  ageMeanS: number;
  ageMaxS: number;
}

async function measure(pids: () => number[], withSelf: boolean, frameAges?: () => number[]) {
  await sleep(WARMUP * 1000);
  const self0 = process.cpuUsage();
  const before = new Map(pids().map((p) => [p, cpuTicks(p)]));
  const ages: number[] = [];
  const t0 = Date.now();
  while (Date.now() - t0 < SECONDS * 1000) {
    await sleep(1000);
    if (frameAges) ages.push(...frameAges());
  }
  const wall = (Date.now() - t0) / 1000;
  let ticks = 0;
  for (const p of pids()) ticks += cpuTicks(p) - (before.get(p) ?? 0);
  const self = process.cpuUsage(self0);
  const selfS = withSelf ? (self.user + self.system) / 1e6 : 0;
  return { cpuS: ticks / TICK + selfS, selfS, wall, ages };
}

function ffmpegFleet(urls: string[], args: (url: string) => string[]): ChildProcess[] {
  return urls.map((u) => spawn('ffmpeg', args(u), { stdio: ['ignore', 'ignore', 'ignore'] }));
}

async function runMode(mode: 'gateway' | 'gateway-ffmpeg' | 'bare' | 'full@5', urls: string[]): Promise<Result> {
  const n = urls.length;
  if (mode === 'gateway') {
    let frames = 0;
    const caps = urls.map(
      (url, i) =>
        new CameraCapture({
          camera: cameraSettings({ id: `c${i}`, url, interval_s: 1, stall_s: 30 }),
          width: 416,
          height: 416,
          fit: 'fit',
          log: silentLogger(),
          onFrame: (f) => {
            frames++;
            f.release();
          },
          onHealth: () => undefined,
        }),
    );
    caps.forEach((c) => c.start());
    const pidsOf = () => caps.map((c) => (c as unknown as { source: { pid?: number } | null }).source?.pid).filter((p): p is number => !!p);
    const f0 = { v: 0 };
    setTimeout(() => (f0.v = frames), WARMUP * 1000);
    const restarts = () => caps.reduce((sum, c) => sum + c.snapshot().restarts, 0);
    const r0 = { v: 0 };
    setTimeout(() => (r0.v = restarts()), WARMUP * 1000);
    const r = await measure(pidsOf, true, () => caps.map((c) => (Date.now() - (c.snapshot().lastFrameAt ?? Date.now())) / 1000));
    const delivered = frames - f0.v;
    // A restart re-probes the stream, which costs more than many key frames: say so.
    if (restarts() > r0.v) console.error(`  ${restarts() - r0.v} stream restarts while measuring (n=${n})`);
    await Promise.all(caps.map((c) => c.stop()));
    return {
      mode,
      n,
      cpuPerCamera: (100 * r.cpuS) / r.wall / n,
      nodePerCamera: (100 * r.selfS) / r.wall / n,
      framesPerCamera: delivered / r.wall / n,
      ageMeanS: mean(r.ages),
      ageMaxS: Math.max(...r.ages),
    };
  }
  // -nostats in every mode: the gateway passes it, and progress printing is not free.
  const common = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-timeout', '10000000'];
  const fleet = ffmpegFleet(urls, (u) =>
    mode === 'gateway-ffmpeg'
      ? ['-y', ...frameSourceArgs({ url: u, width: 416, height: 416, fit: 'fit' }).map((a) => (a === 'pipe:1' ? '/dev/null' : a))]
      : mode === 'bare'
        ? [
            ...common,
            '-skip_frame',
            'nokey',
            '-threads',
            '1',
            '-analyzeduration',
            '1000000',
            '-i',
            u,
            '-an',
            '-fps_mode',
            'passthrough',
            '-f',
            'null',
            '-',
          ]
        : [
            ...common,
            '-threads',
            '1',
            '-i',
            u,
            '-an',
            '-vf',
            'fps=5,scale=416:-2',
            '-pix_fmt',
            'rgb24',
            '-f',
            'rawvideo',
            '-y',
            '/dev/null',
          ],
  );
  const r = await measure(() => fleet.map((p) => p.pid!).filter(Boolean), false);
  fleet.forEach((p) => p.kill('SIGKILL'));
  await sleep(500);
  return { mode, n, cpuPerCamera: (100 * r.cpuS) / r.wall / n, framesPerCamera: mode === 'bare' ? 0.5 : 5, ageMeanS: NaN, ageMaxS: NaN };
}

function mean(a: number[]): number {
  return a.length ? a.reduce((s, x) => s + x, 0) / a.length : NaN;
}

const clip = await makeClip({ codec: 'h264', width: 640, height: 360, fps: 25, gopSeconds: 2, seconds: 20 });
const results: Result[] = [];
for (const n of values.n!.split(',').map(Number)) {
  const mounts = Object.fromEntries(Array.from({ length: n }, (_, i) => [`/cam${i + 1}`, clip]));
  // Staggered phases: 134 real cameras do not send their key frames in the same instant.
  const server = await startRtspServer({ mounts, phases: Math.min(8, n), transport: 'tcp' });
  const urls = Array.from({ length: n }, (_, i) => server.url(`/cam${i + 1}`));
  const modes = process.env.BENCH_MODES
    ? (process.env.BENCH_MODES.split(',') as ('gateway' | 'gateway-ffmpeg' | 'bare' | 'full@5')[])
    : (['gateway', 'gateway-ffmpeg', 'bare', 'full@5'] as const);
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of modes) {
      const r = await runMode(mode, urls);
      results.push(r);
      console.error(
        `round ${round + 1} ${mode} n=${n}: ${r.cpuPerCamera.toFixed(2)} % of a core per camera${r.nodePerCamera !== undefined ? ` (Node ${r.nodePerCamera.toFixed(3)} %)` : ''}`,
      );
    }
  }
  await server.stop();
}

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);
const pick = (n: number, mode: string, f: (r: Result) => number) => median(results.filter((r) => r.n === n && r.mode === mode).map(f));
console.log(
  `\ningest cost per camera, median of ${ROUNDS} interleaved rounds (${SECONDS} s each after ${WARMUP} s warm-up; 640x360 H.264, 25 fps, 2 s GOP; % of one core)\n`,
);
console.log(
  '| cameras | gateway ingest (of which Node) | its ffmpeg alone | ratio | bare ffmpeg -skip_frame nokey | ratio | full decode @5 fps | frames/s per camera | frame age mean / max |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const n of [...new Set(results.map((r) => r.n))]) {
  const g = pick(n, 'gateway', (r) => r.cpuPerCamera);
  const b = pick(n, 'bare', (r) => r.cpuPerCamera);
  const own = pick(n, 'gateway-ffmpeg', (r) => r.cpuPerCamera);
  const f = pick(n, 'full@5', (r) => r.cpuPerCamera);
  const node = pick(n, 'gateway', (r) => r.nodePerCamera ?? NaN);
  const fps = pick(n, 'gateway', (r) => r.framesPerCamera);
  const ageMean = pick(n, 'gateway', (r) => r.ageMeanS);
  const ageMax = pick(n, 'gateway', (r) => r.ageMaxS);
  console.log(
    `| ${n} | ${g.toFixed(2)} % (${node.toFixed(2)} %) | ${own.toFixed(2)} % | ${(g / own).toFixed(2)}× | ${b.toFixed(2)} % | ${(g / b).toFixed(2)}× | ${f.toFixed(2)} % | ${fps.toFixed(2)} | ${ageMean.toFixed(2)} s / ${ageMax.toFixed(2)} s |`,
  );
}
process.exit(0);
