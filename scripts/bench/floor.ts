/**
 * What the work costs with nothing around it, measured on the same box in the same run:
 *   bare floor   N `ffmpeg -skip_frame nokey` decoders (key frames only, output discarded)
 *                plus bare `session.run` at the rate the cameras need (N / interval_s)
 *   Frigate-style  the usual NVR way: every frame decoded, 5 kept per second, scaled, and
 *                inference on every kept frame (5 per camera per second)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TreeMeter } from './proc.ts';

const ORT_LOAD = fileURLToPath(new URL('./ort-load.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface InferenceOptions {
  model: string;
  threads: number;
  spin: boolean;
  size: [number, number];
}

export interface FloorResult {
  ffmpegCores: number;
  ortCores: number;
  /** session.run per second achieved, and wanted. */
  ortRate: number;
  ortWanted: number;
}

/** A file loops in real time like a camera; an RTSP URL is read over TCP. */
function inputArgs(url: string): string[] {
  return url.startsWith('rtsp://') ? ['-rtsp_transport', 'tcp', '-i', url] : ['-re', '-stream_loop', '-1', '-i', url];
}

const COMMON = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error'];

export function bareArgs(url: string): string[] {
  return [...COMMON, '-skip_frame', 'nokey', '-threads', '1', ...inputArgs(url), '-an', '-fps_mode', 'passthrough', '-f', 'null', '-'];
}

export function fullDecodeArgs(url: string, width: number): string[] {
  return [
    ...COMMON,
    '-threads',
    '1',
    ...inputArgs(url),
    '-an',
    '-vf',
    `fps=5,scale=${width}:-2`,
    '-pix_fmt',
    'rgb24',
    '-f',
    'rawvideo',
    '-y',
    '/dev/null',
  ];
}

async function startOrt(inf: InferenceOptions, rate: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      ORT_LOAD,
      '--model',
      inf.model,
      '--rate',
      String(rate),
      '--threads',
      String(inf.threads),
      '--spin',
      String(inf.spin),
      '--size',
      `${inf.size[0]}x${inf.size[1]}`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((ok, fail) => {
    let out = '';
    const t = setTimeout(() => fail(new Error('bare onnxruntime load: no READY within 60 s')), 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('READY')) {
        clearTimeout(t);
        ok();
      }
    });
    child.once('exit', (c) => fail(new Error(`bare onnxruntime load exited (${c}) before READY`)));
  });
  return child;
}

async function stopOrt(child: ChildProcess): Promise<{ runs: number; seconds: number }> {
  let out = '';
  child.stdout!.removeAllListeners('data');
  child.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  await exited;
  const line = out.split('\n').find((l) => l.startsWith('{'));
  return line ? JSON.parse(line) : { runs: 0, seconds: 1 };
}

/** N decoders and an inference load side by side for `seconds` after `warmupS`. */
async function measure(
  urls: string[],
  args: (url: string) => string[],
  inf: InferenceOptions,
  rate: number,
  seconds: number,
  warmupS: number,
): Promise<FloorResult> {
  const fleet = urls.map((u) => spawn('ffmpeg', args(u), { stdio: ['ignore', 'ignore', 'ignore'] }));
  let ort: ChildProcess | null = null;
  try {
    ort = await startOrt(inf, rate);
    await sleep(warmupS * 1000);
    const ff = new TreeMeter(() => fleet.map((p) => p.pid!).filter(Boolean));
    const om = new TreeMeter(() => [ort!.pid!]);
    ff.start();
    om.start();
    await sleep(seconds * 1000);
    const ffmpegCores = ff.cores();
    const ortCores = om.cores();
    const done = await stopOrt(ort);
    ort = null;
    return { ffmpegCores, ortCores, ortRate: done.runs / done.seconds, ortWanted: rate };
  } finally {
    ort?.kill('SIGKILL');
    for (const p of fleet) p.kill('SIGKILL');
    await sleep(300);
  }
}

export function bareFloor(urls: string[], inf: InferenceOptions, intervalS: number, seconds: number): Promise<FloorResult> {
  return measure(urls, bareArgs, inf, urls.length / intervalS, seconds, 5);
}

export function frigateStyle(urls: string[], inf: InferenceOptions, seconds: number): Promise<FloorResult> {
  return measure(urls, (u) => fullDecodeArgs(u, inf.size[0]), inf, 5 * urls.length, seconds, 5);
}
