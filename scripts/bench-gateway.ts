/**
 * The whole gateway under load, in figures (not a test): for each N, N file-backed cameras
 * (a 640x360, 25 fps, 2 s-GOP H.264 street with a taxi parked in the no-parking zone,
 * looping in real time), one illegal_parking zone each, interval_s 2, mosquitto (or the
 * embedded broker) and one recording RTP speaker per camera, run as `gateway run`. Per N:
 *   - achieved analysis interval per camera, p50 / p95 / max (camera health, north)
 *   - analyses per second done and needed; parked cars found as events, of N
 *   - gateway CPU (its process tree: Node and every ffmpeg) and PSS over the same tree
 *   - confirmed_at (the frame that completed the dwell) to the first RTP packet of the
 *     warning at the camera's speaker, p95
 *   - the bare floor in the same run: N `ffmpeg -skip_frame nokey` plus bare `session.run`
 *     at N / interval_s per second, and gateway ÷ bare
 *   - a Frigate-style baseline (every frame decoded, 5 fps kept, inference on each) on a
 *     few cameras, as cameras per core, against the gateway's cameras per core
 * With --rtsp N, one more run reads N streams from the GStreamer RTSP server instead.
 *
 *   node --import tsx scripts/bench-gateway.ts [--cameras 32,64,134] [--rtsp 64] [--seconds 120]
 *       [--arrive-over 30] [--set detector.threads=1 ...] [--json] [--keep]
 *
 * The table goes to stdout (with --json: the table to stderr, JSON to stdout). --keep keeps
 * each run's folder (its settings, the gateway's log and data) and prints where.
 */
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { filesDir } from '../gateway/paths.ts';
import { loadManifest } from '../gateway/detect/manifest.ts';
import { startMosquitto, type Mosquitto } from '../test/peers/mosquitto.ts';
import { startRtspServer, type RtspServer } from '../test/peers/rtsp.ts';
import { freePort } from '../test/peers/ports.ts';
import { which } from '../test/peers/require.ts';
import { arrivalClips, benchClip, cacheDir, spreadArrivalClips } from './bench/clip.ts';
import { applyOverride, benchSettings } from './bench/settings.ts';
import { runGateway } from './bench/gateway-run.ts';
import { bareFloor, frigateStyle, type FloorResult, type InferenceOptions } from './bench/floor.ts';
import { percentile, table, type Row } from './bench/table.ts';
import { threading } from '../gateway/detect/threading.ts';

const { values } = parseArgs({
  options: {
    cameras: { type: 'string', default: '32,64,134' },
    rtsp: { type: 'string' },
    seconds: { type: 'string', default: '120' },
    'bare-seconds': { type: 'string' },
    frigate: { type: 'string', default: '2' },
    'frigate-seconds': { type: 'string' },
    set: { type: 'string', multiple: true, default: [] },
    broker: { type: 'string', default: which('mosquitto') ? 'mosquitto' : 'embedded' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    // Cars park at moments spread over this many seconds (0: all parked from the start).
    'arrive-over': { type: 'string', default: '30' },
    // While tuning: the gateway's own figures only (no bare floor, no baseline, no table).
    'gateway-only': { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const BARE_S = Number(values['bare-seconds'] ?? Math.min(SECONDS, 60));
const FRIGATE_S = Number(values['frigate-seconds'] ?? Math.min(SECONDS, 30));
const overrides = values.set!;
const say = (l: string) => process.stderr.write(`${l}\n`);

// What the cameras ask for and which model runs, after the overrides.
const probe = benchSettings({
  dir: '',
  urls: [''],
  speakerPorts: [0],
  broker: { embeddedPort: 0 },
  intervalS: 2,
  dwellS: 10,
  overrides: [],
});
for (const o of overrides) applyOverride(probe, o);
const intervalS = Number(probe.cameras[0].interval_s);
const dwellS = Number(probe.cameras[0].zones[0].rules[0].dwell_s);
const manifest = loadManifest(String(probe.detector.model ?? 'yolox_nano'));
/** The gateway's inference options at N cameras (its default threads and spin depend on N). */
const inferenceFor = (n: number): InferenceOptions => ({
  model: join(filesDir(probe.models?.files_dir), manifest.file),
  ...threading(probe.detector as { threads?: number; spin?: boolean }, n),
  size: [manifest.input.width, manifest.input.height],
});

const runs: { source: 'file' | 'rtsp'; n: number }[] = values
  .cameras!.split(',')
  .filter(Boolean)
  .map((n) => ({ source: 'file', n: Number(n) }));
if (values.rtsp) runs.push({ source: 'rtsp', n: Number(values.rtsp) });

/**
 * File cameras: their key frames spread over 8 phases of the GOP (as the RTSP server's
 * are), and cars parking in up to 48 moments (about three cameras each at 134). The RTSP
 * server plays 6 clips (one stream per clip and phase is what it can serve).
 */
const PHASES = 8;
const [clip] = await benchClip();
const ARRIVE_OVER = Number(values['arrive-over']);
const arrivals = ARRIVE_OVER > 0 ? await arrivalClips(ARRIVE_OVER) : [clip];
const fileClips = (n: number) =>
  ARRIVE_OVER > 0 ? spreadArrivalClips(ARRIVE_OVER, Math.min(n, 6 * PHASES), PHASES) : benchClip(cacheDir(), Math.min(n, PHASES));
const startedAt = new Date();
const load0 = loadavg()[0];
say(
  `gateway benchmark: ${runs.map((r) => `${r.n} ${r.source}`).join(', ')} cameras, ${SECONDS} s each, interval_s ${intervalS}, dwell ${dwellS} s, ${values.broker} broker; ${ARRIVE_OVER > 0 ? `cars park over the first ${ARRIVE_OVER} s (up to ${6 * PHASES} moments; RTSP ${arrivals.length})` : `every car parked from the start (${clip})`}; file cameras' key frames in ${PHASES} phases of the GOP`,
);

interface Measured {
  source: 'file' | 'rtsp';
  n: number;
  gw: Awaited<ReturnType<typeof runGateway>>;
  bare: FloorResult;
}
const measured: Measured[] = [];
for (const run of runs) {
  const dir = mkdtempSync(join(tmpdir(), 'gw-bench-'));
  let rtsp: RtspServer | null = null;
  let mosq: Mosquitto | null = null;
  try {
    const files = run.source === 'file' ? await fileClips(run.n) : arrivals;
    let urls = Array.from({ length: run.n }, (_, i) => files[i % files.length]);
    if (run.source === 'rtsp') {
      const mounts = Object.fromEntries(urls.map((c, i) => [`/cam${i + 1}`, c]));
      // Staggered phases: real cameras do not send their key frames in the same instant.
      rtsp = await startRtspServer({ mounts, phases: Math.min(8, run.n), transport: 'tcp' });
      urls = urls.map((_, i) => rtsp!.url(`/cam${i + 1}`));
    }
    mosq = values.broker === 'mosquitto' ? await startMosquitto() : null;
    say(`${run.n} ${run.source} cameras: the gateway`);
    const gw = await runGateway({
      dir,
      urls,
      broker: mosq ? { url: mosq.url } : { embeddedPort: await freePort() },
      intervalS,
      dwellS,
      overrides,
      seconds: SECONDS,
      audioCache: join(cacheDir(), 'audio'),
      log: say,
    });
    say(
      `  ${gw.found.length} of ${run.n} events, ${gw.cores.toFixed(2)} cores, ${Math.round(gw.pssMiB)} MiB PSS; the bare floor (${BARE_S} s)`,
    );
    say(
      `  cores by process: ${Object.entries(gw.split)
        .map(([k, c]) => `${k} ${c.toFixed(2)}`)
        .join(', ')}`,
    );
    if (values['gateway-only']) {
      const p = (q: number) =>
        percentile(
          gw.intervals.filter((x): x is number => x !== null),
          q,
        )?.toFixed(1);
      say(
        `  interval p50 / p95 / max ${p(50)} / ${p(95)} / ${p(100)} s, worst reported p95 ${percentile(
          gw.worstIntervals.filter((x): x is number => x !== null),
          95,
        )?.toFixed(
          1,
        )} s; expiry → warning p95 ${percentile(gw.latencies, 95)?.toFixed(2)} s; overloaded alert ${gw.overloaded ? 'yes' : 'no'}`,
      );
      continue;
    }
    const bare = await bareFloor(urls, inferenceFor(run.n), intervalS, BARE_S);
    say(
      `  bare: ffmpeg ${bare.ffmpegCores.toFixed(2)} + ORT ${bare.ortCores.toFixed(2)} cores (${bare.ortRate.toFixed(1)} of ${bare.ortWanted.toFixed(1)} runs/s)`,
    );
    measured.push({ source: run.source, n: run.n, gw, bare });
  } finally {
    await rtsp?.stop();
    await mosq?.stop();
    if (values.keep) say(`  kept ${dir} (settings.yaml, gateway.log, data/)`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

if (values['gateway-only']) process.exit(0);
const frigateN = Number(values.frigate);
say(`Frigate-style baseline: ${frigateN} cameras, every frame decoded, 5 fps inferred (${FRIGATE_S} s)`);
// Frigate's own detector settings, whatever the gateway's: two threads, spinning.
const inference = inferenceFor(frigateN);
const frigate = await frigateStyle(
  Array.from({ length: frigateN }, () => clip),
  inference,
  FRIGATE_S,
);
const frigateCores = frigate.ffmpegCores + frigate.ortCores;
const frigatePerCore = (frigateN * Math.min(1, frigate.ortRate / frigate.ortWanted)) / frigateCores;
say(
  `  ${frigate.ffmpegCores.toFixed(2)} + ${frigate.ortCores.toFixed(2)} cores (${frigate.ortRate.toFixed(1)} of ${frigate.ortWanted} runs/s)`,
);

const rows: Row[] = measured.map(({ source, n, gw, bare }) => {
  const known = gw.intervals.filter((x): x is number => x !== null);
  const p50 = percentile(known, 50);
  const bareCores = bare.ffmpegCores + bare.ortCores;
  // Cameras served per core: as many as ran, scaled down by how far behind they were (and
  // those never analysed at all served none).
  const perCore = p50 ? (known.length * Math.min(1, intervalS / p50)) / gw.cores : 0;
  return {
    source,
    cameras: n,
    interval_s: intervalS,
    achieved_p50_s: p50,
    achieved_p95_s: percentile(known, 95),
    achieved_max_s: known.length ? Math.max(...known) : null,
    worst_p95_s: percentile(
      gw.worstIntervals.filter((x): x is number => x !== null),
      95,
    ),
    achieved_missing: n - known.length,
    analyses_per_s: known.reduce((a, x) => a + 1 / x, 0),
    needed_per_s: n / intervalS,
    events_found: gw.found.length,
    events_expected: n,
    overloaded_alert: gw.overloaded,
    gateway_cores: gw.cores,
    pss_mib: gw.pssMiB,
    latency_p95_s: percentile(gw.latencies, 95),
    warning_message_p95_s: percentile(gw.warningAt, 95),
    bare_ffmpeg_cores: bare.ffmpegCores,
    bare_ort_cores: bare.ortCores,
    bare_ort_rate: bare.ortRate,
    bare_cores: bareCores,
    gateway_vs_bare: gw.cores / bareCores,
    cameras_per_core: perCore,
    frigate_cameras_per_core: frigatePerCore,
    vs_frigate: perCore / frigatePerCore,
  };
});

const cpu = cpus();
const meta = {
  machine: `shared ${cpu.length}-core machine (${cpu[0]?.model ?? 'unknown CPU'}), other work running: figures move with it`,
  started_at: startedAt.toISOString(),
  load_average_before: load0,
  load_average_after: loadavg()[0],
  seconds: SECONDS,
  bare_seconds: BARE_S,
  interval_s: intervalS,
  dwell_s: dwellS,
  broker: values.broker,
  overrides,
  // Per run: the gateway's threads and spin follow its number of cameras (gateway/detect/threading.ts).
  inference: {
    model: manifest.id,
    runs: runs.map((r) => ({ cameras: r.n, ...threading(probe.detector as { threads?: number; spin?: boolean }, r.n) })),
  },
  frigate_inference: { threads: inference.threads, spin: inference.spin },
  frigate: {
    cameras: frigateN,
    seconds: FRIGATE_S,
    ffmpeg_cores: frigate.ffmpegCores,
    ort_cores: frigate.ortCores,
    ort_rate: frigate.ortRate,
  },
  latency: 'confirmed_at of the event (the frame that completed the dwell) to the first RTP packet of its warning at the speaker',
};
const text = [
  `\ngateway benchmark on a ${meta.machine}; load average ${load0.toFixed(1)} before, ${meta.load_average_after.toFixed(1)} after`,
  `${SECONDS} s per run, interval_s ${intervalS}, dwell ${dwellS} s; bare floor ${BARE_S} s; Frigate-style: ${frigateN} cameras, ${FRIGATE_S} s${overrides.length ? `; --set ${overrides.join(' ')}` : ''}\n`,
  table(rows),
  '',
].join('\n');
if (values.json) {
  process.stderr.write(text);
  process.stdout.write(`${JSON.stringify({ meta, rows }, null, 2)}\n`);
} else process.stdout.write(text);
process.exit(0);
