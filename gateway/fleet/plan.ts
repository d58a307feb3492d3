/**
 * `gateway plan`: how many boxes N cameras need, from the figures the benchmarks measured
 * on this machine type (README "Ingest cost" and "Detection cost"). Per camera, a box spends
 * ingest (key frames only) plus detection (CPU-seconds per frame × frames per second); a box
 * offers its cores × a headroom share. The figures are constants here, each with where it
 * came from, so a new benchmark run updates them in one place.
 */
export interface ModelCost {
  /** CPU-seconds one frame costs, batched as the gateway runs it. */
  cpuSecondsPerFrame: number;
  source: string;
}

export const MACHINE = {
  name: '2-core x86-64 development machine, shared with other work while measured',
  cores: 2,
  /** Share of the cores planned for cameras; the rest is for warnings, events, MQTT, the OS and peaks. */
  headroom: 0.7,
  /** Key-frame interval of the cameras measured (2 s GOP): frames come no faster than this. */
  gopS: 2,
  /** CPU of one core per camera for ingest (every ffmpeg child plus Node), worst measured row. */
  ingestCorePerCamera: 0.0111,
  ingestSource: 'scripts/bench-ingest.ts, 134 cameras, 640×360 H.264 at 25 fps, 2 s GOP: 1.11 % of a core per camera',
};

const YOLOX_PER_FRAME = 1 / 49.3;

export const MODELS: Record<string, ModelCost> = {
  yolox_nano: {
    cpuSecondsPerFrame: YOLOX_PER_FRAME,
    source: 'scripts/bench-detect.ts, one shared session, 16 cameras, batch 4: 49.3 frames per CPU-second',
  },
  nanodet_m: {
    // No shared-session throughput run for NanoDet yet: scaled from YOLOX-Nano by the ratio
    // of their median per-frame times (pre + inference + post) in the same bench run.
    cpuSecondsPerFrame: YOLOX_PER_FRAME * ((0.48 + 14.6 + 0.58) / (0.51 + 35.7 + 0.07)),
    source: 'scripts/bench-detect.ts: YOLOX-Nano throughput scaled by the per-frame medians (15.7 ms vs 36.3 ms at 416×416)',
  },
};

export interface Plan {
  cameras: number;
  intervalS: number;
  model: string;
  framesPerSecondPerCamera: number;
  corePerCamera: number;
  camerasPerBox: number;
  boxes: number;
}

export function plan(cameras: number, intervalS: number, model: string): Plan {
  if (!Number.isInteger(cameras) || cameras < 1) throw new Error(`--cameras must be a whole number above 0, not ${cameras}`);
  if (!(intervalS > 0)) throw new Error(`--interval must be seconds above 0, not ${intervalS}`);
  const m = MODELS[model];
  if (!m) throw new Error(`--model ${model}: no figures for it (known: ${Object.keys(MODELS).join(', ')})`);
  // Only key frames are decoded: a camera gives at most one frame per GOP, whatever interval_s says.
  const fps = 1 / Math.max(intervalS, MACHINE.gopS);
  const corePerCamera = MACHINE.ingestCorePerCamera + fps * m.cpuSecondsPerFrame;
  const camerasPerBox = Math.floor((MACHINE.cores * MACHINE.headroom) / corePerCamera);
  return {
    cameras,
    intervalS,
    model,
    framesPerSecondPerCamera: fps,
    corePerCamera,
    camerasPerBox,
    boxes: Math.ceil(cameras / camerasPerBox),
  };
}

export function planText(p: Plan): string {
  const m = MODELS[p.model]!;
  const pct = (x: number) => `${(x * 100).toFixed(2)} % of a core`;
  return [
    `${p.cameras} cameras, one frame every ${p.intervalS} s (interval_s), model ${p.model}:`,
    `  ${p.boxes} box${p.boxes === 1 ? '' : 'es'} of this machine type, up to ${p.camerasPerBox} cameras each`,
    `  (fleet.shards: ${p.boxes}; box k runs the cameras whose index % ${p.boxes} == k)`,
    '',
    'How:',
    `  per camera ${pct(p.corePerCamera)} = ingest ${pct(MACHINE.ingestCorePerCamera)} + detection ${p.framesPerSecondPerCamera.toFixed(2)} frames/s × ${(m.cpuSecondsPerFrame * 1000).toFixed(1)} CPU-ms`,
    `  a box: ${MACHINE.cores} cores × ${MACHINE.headroom} planned for cameras (the rest: warnings, events, MQTT, peaks)`,
    `  frames: key frames only, at most one per ${MACHINE.gopS} s GOP, so interval_s below ${MACHINE.gopS} s changes nothing`,
    '',
    `Measured on: ${MACHINE.name}`,
    `  ingest: ${MACHINE.ingestSource}`,
    `  detection: ${m.source}`,
    '  Figures move by ±20 % (ingest) and up to ±50 % (inference) between runs on that shared machine;',
    '  measure your own box with the same scripts and plan with margin.',
  ].join('\n');
}
