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

/** Path of the clip, generated once. */
export function benchClip(dir = cacheDir()): Promise<string> {
  return makeClip(SCENE, 'parked', dir);
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
    const scene: Scenario = {
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
    out.push(await makeClip(scene, `arrives${parks}s`, dir));
  }
  return out;
}

async function makeClip(scene: Scenario, name: string, dir: string): Promise<string> {
  const key = createHash('sha256')
    .update(JSON.stringify(scenarioArgs(scene, '', 'OUT')))
    .digest('hex')
    .slice(0, 12);
  const out = join(dir, `${name}-640x360-25fps-gop2-${key}.mp4`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${name}-${process.pid}.mp4`);
  await new Promise<void>((ok, fail) => {
    const p = spawn('ffmpeg', scenarioArgs(scene, filesDir(), tmp), { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e) => fail(new Error(`cannot run ffmpeg: ${e.message}`)));
    p.on('close', (code) => (code === 0 ? ok() : fail(new Error(`ffmpeg failed (${code}): ${err.trim()}`))));
  });
  renameSync(tmp, out);
  return out;
}
