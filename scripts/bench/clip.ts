/**
 * The benchmark's camera picture: a real street (the sample photograph) at 640x360, 25 fps,
 * a key frame every 2 s like a camera's sub-stream, with a taxi parked in the no-parking
 * zone for the whole clip, so the clip loops without a jump and every camera has one car
 * to find. Made with the scenario generator (scripts/scenario.ts) and cached by its exact
 * ffmpeg command.
 *
 * Arrivals (arrivalClips): the same street, empty at first, and the taxi driving in and
 * parking at one of several moments spread over the first seconds, then staying to the
 * clip's end. Cars in a township do not all park in the same second; with every car there
 * from the start, every camera's dwell completes in the same few seconds and the box
 * meets 134 verdicts at once (that is the burst figure, arrive-over 0).
 *
 * Phases (phased): the same clip with its key frames shifted by a fraction of the GOP.
 * Every file camera starts its file when the gateway starts, so with one clip their key
 * frames would all come in the same instant, every 2 s: 134 key frames decoded at once,
 * the last 0.7 s late. Real cameras' GOPs are not in step. (The RTSP run gets the same
 * from the RTSP server's phases.)
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filesDir } from '../../gateway/paths.ts';
import { scenarioArgs, type Scenario } from '../scenario.ts';

/** The no-parking zone the taxi stands in, as in the parking scenarios. */
export const ZONE: [number, number][] = [
  [0.45, 0.78],
  [0.98, 0.78],
  [0.98, 0.999],
  [0.45, 0.999],
];

const SCENE: Scenario = {
  description: 'A taxi parked on the pedestrian plaza for the whole clip; another stays at the kerb outside the zone.',
  background: { image: 'street.png', crop: [72, 0, 1296, 729] },
  size: [640, 360],
  fps: 25,
  gop_s: 2,
  duration_s: 20,
  actors: [
    {
      name: 'taxi',
      image: 'street.png',
      crop: [111, 468, 334, 158],
      keyframes: [
        { t: 0, x: 760, y: 545 },
        { t: 20, x: 760, y: 545 },
      ],
    },
  ],
  zone: ZONE,
};

export function cacheDir(): string {
  return process.env.GW_BENCH_CACHE ?? join(tmpdir(), 'gw-bench-cache');
}

/** The clip, generated once; with `phases`, that many versions (key frames shifted, see makeClip). */
export async function benchClip(dir = cacheDir(), phases = 1): Promise<string[]> {
  const out: string[] = [];
  for (let k = 0; k < phases; k++) out.push(await makeClip(SCENE, 'parked', dir, (k * SCENE.gop_s) / phases));
  return out;
}

/** How long an arrivals clip runs before it loops (longer than a benchmark run). */
const ARRIVALS_S = 120;

/**
 * `variants` clips; in clip k the taxi drives in over 3 s and parks at about
 * 4 + k x overS / variants seconds, then stays.
 */
export async function arrivalClips(overS: number, variants = 6, dir = cacheDir()): Promise<string[]> {
  const out: string[] = [];
  for (let k = 0; k < variants; k++) {
    const parks = Math.round(4 + (k * overS) / variants);
    out.push(await makeClip(arrivalScene(parks), `arrives${parks}s`, dir));
  }
  return out;
}

/**
 * One clip per camera up to `count`: clip k's taxi parks at 4 + overS x frac(k x 0.618...)
 * seconds (the golden ratio: any first n clips spread evenly over the stretch, about three
 * cameras to a moment at 134 from 48 clips), and its key frames are shifted by
 * (k mod phases) / phases of the GOP (see makeClip).
 */
export async function spreadArrivalClips(overS: number, count: number, phases: number, dir = cacheDir()): Promise<string[]> {
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    const parks = +(4 + overS * ((k * 0.6180339887) % 1)).toFixed(2);
    out.push(await makeClip(arrivalScene(parks), `arrives${parks}s`, dir, ((k % phases) * SCENE.gop_s) / phases));
  }
  return out;
}

function arrivalScene(parks: number): Scenario {
  return {
    ...SCENE,
    description: `The plaza empty, then a taxi drives in and parks at ${parks} s and stays.`,
    duration_s: ARRIVALS_S,
    actors: [
      {
        ...SCENE.actors[0],
        keyframes: [
          { t: 0, x: 1500, y: 545 },
          { t: parks - 3, x: 1500, y: 545 },
          { t: parks, x: 760, y: 545 },
          { t: ARRIVALS_S, x: 760, y: 545 },
        ],
      },
    ],
  };
}

/** `keyShiftS`: the key frames at that shift plus whole GOPs (and one at 0, which starts the file). */
async function makeClip(scene: Scenario, name: string, dir: string, keyShiftS = 0): Promise<string> {
  const args = (images: string, out: string) => {
    const a = scenarioArgs(scene, images, out);
    // x264 counts its GOP from the last key frame: one forced at the shift moves all that follow.
    if (keyShiftS > 0) a.splice(a.indexOf('-sc_threshold'), 0, '-force_key_frames', keyShiftS.toFixed(2));
    return a;
  };
  const key = createHash('sha256')
    .update(JSON.stringify(args('', 'OUT')))
    .digest('hex')
    .slice(0, 12);
  const phase = keyShiftS > 0 ? `-phase${Math.round(keyShiftS * 1000)}ms` : '';
  const out = join(dir, `${name}${phase}-640x360-25fps-gop2-${key}.mp4`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${name}-${process.pid}.mp4`);
  await new Promise<void>((ok, fail) => {
    const p = spawn('ffmpeg', args(filesDir(), tmp), { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e) => fail(new Error(`cannot run ffmpeg: ${e.message}`)));
    p.on('close', (code) => (code === 0 ? ok() : fail(new Error(`ffmpeg failed (${code}): ${err.trim()}`))));
  });
  renameSync(tmp, out);
  return out;
}
