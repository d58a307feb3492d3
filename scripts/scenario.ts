/**
 * Scenario videos for the demo and the tests, composed from real photographs: crops of
 * real vehicles, people and objects move over a real street, so the real model sees them
 * arrive, stay and leave. Each scenario is a JSON file in scripts/scenarios/ that also
 * states what should happen (its expected event timeline).
 *
 *   node --import tsx scripts/scenario.ts [name ...] [--out DIR] [--force]
 *
 * Output: DIR/<name>.mp4 (H.264, fixed GOP so key frames come at a known rate). A file
 * is regenerated only when its scenario changes.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, filesDir } from '../gateway/paths.ts';

export interface Keyframe {
  t: number;
  x: number;
  y: number;
}

export interface Actor {
  name: string;
  image: string;
  /** [x, y, w, h] in the source image. */
  crop: [number, number, number, number];
  /** Top-left position in background pixels; linear in between, hidden outside. */
  keyframes: Keyframe[];
  /** Size relative to the background's scale (2: twice as large; a thing nearer the camera). */
  scale?: number;
  /** Mirror left-right (another copy of the same thing looks different). */
  flip?: boolean;
  /** [from, to) seconds when the actor is not drawn: a thing the detector misses for a moment. */
  hidden?: [number, number][];
}

/** One event the scenario must give (count 1 or more), or must not give (count 0). */
export interface ExpectedEvent {
  type: string;
  zone: string;
  count: number;
  /** Seconds into the video the (first) event is confirmed at, or each event's, give or take tolerance_s. */
  confirm_at_s?: number | number[];
  tolerance_s?: number;
  /** Classes the event must name (the evidence and, for compound rules, the person). */
  classes?: string[];
  /** At least this many tracks in the event (non-motor parking: the bicycles). */
  min_tracks?: number;
}

/** A zone as in the settings file (id, polygon, mask, schedule, rules with overrides). */
export interface ScenarioZone {
  id: string;
  polygon: [number, number][];
  mask?: [number, number][][];
  schedule?: unknown;
  rules: ({ type: string } & Record<string, unknown>)[];
}

export interface Scenario {
  description: string;
  background: { image: string; crop?: [number, number, number, number] };
  size: [number, number];
  fps: number;
  gop_s: number;
  duration_s: number;
  actors: Actor[];
  /** Brightness offset over time (-1..1, in `x`), for lighting-change scenes. */
  lighting?: Keyframe[];
  /** Contrast (gain) over time (1 = unchanged, in `x`), with or without `lighting`. */
  contrast?: Keyframe[];
  /** Fresh noise on every pixel of every frame (rain, grain), strength 0-100 (ffmpeg's noise filter). */
  noise?: number;
  zone?: [number, number][];
  expect?: unknown[];
  /** The camera's zones and rules, for running the scenario through the gateway (scripts/scenario-run.ts). */
  zones?: ScenarioZone[];
  /** Camera settings for the run: analysis interval (default 1 s), static-change settings, models. */
  camera?: { interval_s?: number; static_change?: Record<string, unknown>; models?: string[] };
  /** Tracking settings for the run (default: the gateway's). */
  tracking?: { max_missed_s?: number; stationary_ratio?: number };
}

export const SCENARIO_DIR = join(ROOT, 'scripts', 'scenarios');

export function loadScenario(name: string): Scenario {
  const path = name.endsWith('.json') ? resolve(name) : join(SCENARIO_DIR, `${name}.json`);
  return JSON.parse(readFileSync(path, 'utf8')) as Scenario;
}

/** A piecewise-linear ffmpeg expression of t through the keyframes' `key` values. */
export function piecewise(kf: readonly Keyframe[], key: 'x' | 'y'): string {
  let expr = String(kf[kf.length - 1][key]);
  for (let i = kf.length - 2; i >= 0; i--) {
    const a = kf[i],
      b = kf[i + 1];
    const span = b.t - a.t || 1;
    const lerp = `${a[key]}+(t-${a.t})*${(b[key] - a[key]) / span}`;
    expr = `if(lt(t\\,${b.t})\\,${lerp}\\,${expr})`;
  }
  return expr;
}

export function scenarioArgs(s: Scenario, images: string, out: string): string[] {
  const inputs: string[] = [];
  // Each picture is decoded once; the loop filter repeats it (decoding a large PNG for
  // every frame would cost most of the generation time).
  const addImage = (file: string) => inputs.push('-i', join(images, file));
  const still = `loop=loop=-1:size=1:start=0,setpts=N/${s.fps}/TB,trim=duration=${s.duration_s}`;
  addImage(s.background.image);
  s.actors.forEach((a) => addImage(a.image));
  const f: string[] = [];
  // Compose at the output size: scaling first makes every later filter 4-10x cheaper.
  const bc = s.background.crop;
  const [W, H] = s.size;
  const k = W / (bc ? bc[2] : W);
  const px = (v: number) => Math.max(1, Math.round(v * k));
  f.push(`[0:v]${bc ? `crop=${bc[2]}:${bc[3]}:${bc[0]}:${bc[1]},` : ''}scale=${W}:${H},setsar=1,${still}[bg0]`);
  s.actors.forEach((a, i) => {
    const [x, y, w, h] = a.crop;
    const kf = a.keyframes.map((p) => ({ t: p.t, x: p.x * k, y: p.y * k }));
    const size = a.scale ?? 1;
    const flip = a.flip ? ',hflip' : '';
    // Shown between the first and last keyframe, except in its hidden windows.
    const shown = [
      `between(t\\,${kf[0].t}\\,${kf[kf.length - 1].t})`,
      ...(a.hidden ?? []).map(([h0, h1]) => `not(between(t\\,${h0}\\,${h1 - 0.001}))`),
    ].join('*');
    f.push(`[${i + 1}:v]crop=${w}:${h}:${x}:${y}${flip},scale=${px(w * size)}:${px(h * size)},setsar=1,${still}[a${i}]`);
    f.push(`[bg${i}][a${i}]overlay=x='${piecewise(kf, 'x')}':y='${piecewise(kf, 'y')}':eval=frame:enable='${shown}'[bg${i + 1}]`);
  });
  let last = `bg${s.actors.length}`;
  if (s.lighting?.length || s.contrast?.length) {
    const eq = [
      ...(s.lighting?.length ? [`brightness='${piecewise(s.lighting, 'x')}'`] : []),
      ...(s.contrast?.length ? [`contrast='${piecewise(s.contrast, 'x')}'`] : []),
    ];
    f.push(`[${last}]eq=${eq.join(':')}:eval=frame[lit]`);
    last = 'lit';
  }
  if (s.noise) {
    f.push(`[${last}]noise=alls=${s.noise}:allf=t+u[wet]`);
    last = 'wet';
  }
  f.push(`[${last}]format=yuv420p[out]`);
  const gop = Math.max(1, Math.round(s.fps * s.gop_s));
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    ...inputs,
    '-filter_complex',
    f.join(';'),
    '-map',
    '[out]',
    '-r',
    String(s.fps),
    '-t',
    String(s.duration_s),
    // A fixed GOP: key frames exactly every gop_s, as a camera's sub-stream sends them.
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-crf',
    '28',
    '-g',
    String(gop),
    '-keyint_min',
    String(gop),
    '-sc_threshold',
    '0',
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
    out,
  ];
}

function run(args: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    const p = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e) => fail(new Error(`cannot run ffmpeg: ${e.message}`)));
    p.on('close', (code) => (code === 0 ? ok() : fail(new Error(`ffmpeg failed (${code}): ${err.trim()}`))));
  });
}

/** Generates (or reuses) the video for a scenario and returns its path. */
export async function ensureScenario(name: string, opts: { out?: string; images?: string; force?: boolean } = {}): Promise<string> {
  const s = loadScenario(name);
  const images = opts.images ?? filesDir();
  const outDir = opts.out ?? join(ROOT, 'data', 'scenarios');
  mkdirSync(outDir, { recursive: true });
  const base = basename(name, '.json');
  // Keyed by the exact ffmpeg command, so a change to the scenario or to the generator regenerates.
  const hash = createHash('sha256')
    .update(JSON.stringify(scenarioArgs(s, '', 'OUT')))
    .digest('hex')
    .slice(0, 12);
  const out = join(outDir, `${base}.mp4`);
  const stamp = `${out}.sha`;
  if (!opts.force && existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return out;
  for (const img of [s.background.image, ...s.actors.map((a) => a.image)])
    if (!existsSync(join(images, img)))
      throw new Error(`scenario ${base}: sample image ${join(images, img)} is missing; run: gateway models fetch`);
  const tmp = join(outDir, `.${base}.${process.pid}.mp4`);
  await run(scenarioArgs(s, images, tmp));
  renameSync(tmp, out);
  // The expected event timeline travels with the video.
  if (s.expect)
    writeFileSync(
      join(outDir, `${base}.expect.json`),
      `${JSON.stringify({ description: s.description, zones: s.zones, expect: s.expect }, null, 2)}\n`,
    );
  writeFileSync(stamp, hash);
  return out;
}

export function scenarioNames(): string[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => basename(f, '.json'))
    .sort();
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' }, force: { type: 'boolean' } } });
  const names = positionals.length ? positionals : scenarioNames();
  for (const n of names) {
    const t = Date.now();
    const p = await ensureScenario(n, { out: values.out, force: values.force });
    console.log(`${n}: ${p} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  }
}
