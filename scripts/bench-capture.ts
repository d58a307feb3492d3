/**
 * Capture alone, two ways, on N cameras of the benchmark clip (640x360, 25 fps, a key frame
 * every 2 s, looped in real time) at one analysis per `interval` seconds:
 *   ffmpeg   one ffmpeg CLI per camera decoding every key frame (-skip_frame nokey), scaled
 *            in ffmpeg, piped to the process (the default decoder);
 *   node-av  in the process, every packet read, a key frame decoded only when the camera is
 *            due (decoder: node-av).
 * Each runs in its own Node process; CPU (cores) is that process and its children over the
 * window, read from /proc, and memory is their PSS (peak of samples). Frames are released at
 * once: no detector, only the cost of getting pictures in.
 *
 *   node --import tsx scripts/bench-capture.ts [--cameras 16] [--seconds 30] [--interval 2] [--rtsp]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { FrameSource, type FrameSourceOptions } from '../devices/ffmpeg/frames.ts';
import { NodeAvSource } from '../devices/ffmpeg/node-av.ts';
import { CameraFramePool } from '../gateway/capture/pool.ts';
import { benchClip } from './bench/clip.ts';
import { TreeMeter } from './bench/proc.ts';
import { startRtspServer, type RtspServer } from '../test/peers/rtsp.ts';

type Mode = 'ffmpeg' | 'node-av';
const MODES: Mode[] = ['ffmpeg', 'node-av'];

const { values: a } = parseArgs({
  options: {
    cameras: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '30' },
    interval: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '6' },
    child: { type: 'string' },
    /** Read the clip as N streams of the GStreamer RTSP server instead (the server's CPU is not counted). */
    rtsp: { type: 'boolean', default: false },
    url: { type: 'string', multiple: true },
  },
});
const N = Number(a.cameras);
const INTERVAL = Number(a.interval);

/** Child: runs the cameras until told to stop, reporting frames delivered when asked. */
async function child(mode: Mode, urls: string[]): Promise<void> {
  const sources: (FrameSource | NodeAvSource)[] = [];
  let frames = 0;
  let stopping = false;
  for (let i = 0; i < N; i++) {
    const pool = new CameraFramePool(INTERVAL * 1000);
    const o: FrameSourceOptions = { url: urls[i % urls.length], width: 416, height: 416, fit: 'fit' };
    const s = mode === 'node-av' ? new NodeAvSource(`cam${i}`, o, pool) : new FrameSource(`cam${i}`, o, pool);
    s.on('frame', (_h, data) => {
      frames++;
      pool.release(data);
    });
    s.on('exit', (err) => {
      if (!stopping) console.error(`cam${i}: ${err.message}`);
    });
    s.start();
    sources.push(s);
  }
  process.on('message', async (m: string) => {
    if (m === 'count') process.send!({ frames });
    if (m === 'stop') {
      stopping = true;
      await Promise.all(sources.map((s) => s.stop()));
      process.exit(0);
    }
  });
  process.send!('ready');
}

interface Result {
  mode: Mode;
  cores: number;
  pssMiB: number;
  framesPerS: number;
}

function ask(c: ChildProcess, m: string): Promise<{ frames: number }> {
  return new Promise((ok) => {
    c.once('message', (x) => ok(x as { frames: number }));
    c.send(m);
  });
}

async function measure(mode: Mode, urls: string[]): Promise<Result> {
  const args = ['--child', mode, '--cameras', String(N), '--interval', String(INTERVAL), ...urls.flatMap((u) => ['--url', u])];
  const c = fork(new URL(import.meta.url).pathname, args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((ok) => c.once('message', () => ok()));
  const meter = new TreeMeter(() => [c.pid!]);
  await new Promise((ok) => setTimeout(ok, Number(a.warmup) * 1000));
  const f0 = (await ask(c, 'count')).frames;
  const t0 = performance.now();
  meter.start();
  const seconds = Number(a.seconds);
  for (let t = 0; t < seconds; t += 2) {
    await new Promise((ok) => setTimeout(ok, Math.min(2, seconds - t) * 1000));
    meter.samplePss();
  }
  const cores = meter.cores();
  const f1 = (await ask(c, 'count')).frames;
  const wall = (performance.now() - t0) / 1000;
  c.send('stop');
  await new Promise((ok) => c.once('exit', ok));
  return { mode, cores, pssMiB: meter.peakPssMiB(), framesPerS: (f1 - f0) / wall };
}

async function main(): Promise<void> {
  if (a.child) return child(a.child as Mode, a.url!);
  const [clip] = await benchClip();
  let urls = [clip];
  let server: RtspServer | null = null;
  if (a.rtsp) {
    const mounts = Object.fromEntries(Array.from({ length: N }, (_, i) => [`/cam${i + 1}`, clip]));
    // Staggered phases: real cameras do not send their key frames in the same instant.
    server = await startRtspServer({ mounts, phases: Math.min(8, N), transport: 'tcp' });
    urls = Object.keys(mounts).map((m) => server!.url(m));
  }
  console.log(`${N} cameras, ${a.rtsp ? 'RTSP of ' : ''}${clip}, interval ${INTERVAL} s, ${a.seconds} s each after ${a.warmup} s warm-up`);
  const rows: Result[] = [];
  try {
    for (const m of MODES) {
      const r = await measure(m, urls);
      rows.push(r);
      console.log(`${m}: done`);
    }
  } finally {
    await server?.stop();
  }
  console.log(`\n| decoder | cameras | frames/s (needed) | CPU, cores | CPU per camera | PSS |`);
  console.log(`|---|---|---|---|---|---|`);
  for (const r of rows)
    console.log(
      `| ${r.mode} | ${N} | ${r.framesPerS.toFixed(1)} (${(N / INTERVAL).toFixed(1)}) | ${r.cores.toFixed(3)} | ${((r.cores / N) * 1000).toFixed(1)} ms/s | ${r.pssMiB.toFixed(0)} MiB |`,
    );
}

await main();
