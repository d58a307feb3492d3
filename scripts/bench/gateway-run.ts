/**
 * One measured run of the real gateway (`gateway run`, a child process) on the benchmark's
 * settings: its process tree's CPU and PSS, what it says north over MQTT (events, camera
 * health with the achieved analysis interval, overload alerts), and when each warning
 * reached the camera's recording speaker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { ROOT } from '../../gateway/paths.ts';
import { RtpRecorder } from '../sim/rtp-speaker.ts';
import { GATEWAY_ID, PREFIX, cameraId, writeBenchSettings } from './settings.ts';
import { TreeMeter } from './proc.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface GatewayRunOptions {
  dir: string;
  urls: string[];
  broker: { url: string } | { embeddedPort: number };
  intervalS: number;
  dwellS: number;
  overrides: string[];
  seconds: number;
  /** Synthesised warning audio kept between runs, so the first warning is not a cold start. */
  audioCache?: string;
  log: (line: string) => void;
}

export interface GatewayRunResult {
  /** Per camera, the last achieved analysis interval it reported (null: none reported). */
  intervals: (number | null)[];
  /** Per camera, the worst it reported while measured (null: none reported). */
  worstIntervals: (number | null)[];
  /** Cameras (ids) with an illegal_parking event. */
  found: string[];
  cores: number;
  /** Cores per kind of process: node, frames (ffmpeg decoders), ring (clip rings), other. */
  split: Record<string, number>;
  pssMiB: number;
  /** Per event: seconds from its confirmed_at to the first RTP packet at its speaker. */
  latencies: number[];
  /** Same, to the warning message's `at` (when no RTP arrived). */
  warningAt: number[];
  overloaded: boolean;
  startupS: number;
}

interface GatewayEvent {
  id: string;
  camera: string;
  confirmedAt: number;
}

export async function runGateway(o: GatewayRunOptions): Promise<GatewayRunResult> {
  mkdirSync(o.dir, { recursive: true });
  const recorders = o.urls.map(() => new RtpRecorder({ port: 0 }));
  const ports = await Promise.all(recorders.map((r) => r.start()));
  const file = writeBenchSettings({
    dir: o.dir,
    urls: o.urls,
    speakerPorts: ports,
    broker: o.broker,
    intervalS: o.intervalS,
    dwellS: o.dwellS,
    overrides: o.overrides,
  });
  const audioDir = join(o.dir, 'data', 'audio');
  if (o.audioCache && existsSync(o.audioCache)) cpSync(o.audioCache, audioDir, { recursive: true });

  const health = new Map<string, { interval: number | null }>();
  /** From the start of the measured window: a camera that slipped in the middle counts. */
  const worst = new Map<string, number>();
  let measuring = false;
  const events: GatewayEvent[] = [];
  const warnings = new Map<string, number>();
  let overloaded = false;
  const onMessage = (topic: string, payload: Buffer) => {
    let m: any;
    try {
      m = JSON.parse(payload.toString());
    } catch {
      return;
    }
    if (topic.endsWith('/health') && topic.includes('/cameras/')) {
      const prev = health.get(m.camera);
      health.set(m.camera, { interval: typeof m.analysis_interval_s === 'number' ? m.analysis_interval_s : (prev?.interval ?? null) });
      if (measuring && typeof m.analysis_interval_s === 'number')
        worst.set(m.camera, Math.max(worst.get(m.camera) ?? 0, m.analysis_interval_s));
    } else if (topic.endsWith('/events') && m.type === 'illegal_parking') {
      if (!events.some((e) => e.id === m.id)) events.push({ id: m.id, camera: m.camera.id, confirmedAt: Date.parse(m.confirmed_at) });
    } else if (topic.endsWith('/warnings') && m.event_id && m.outcome === 'played' && !warnings.has(m.event_id)) {
      warnings.set(m.event_id, Date.parse(m.at));
    } else if (topic.endsWith('/alerts') && m.kind === 'overloaded') overloaded = true;
  };
  const subscribe = async (url: string): Promise<MqttClient> => {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 500, clientId: `bench-${process.pid}` });
    c.on('message', onMessage);
    await c.subscribeAsync(`${PREFIX}/v1/gateways/${GATEWAY_ID}/#`, { qos: 1 });
    return c;
  };
  const brokerUrl = 'url' in o.broker ? o.broker.url : `mqtt://127.0.0.1:${o.broker.embeddedPort}`;
  let client: MqttClient | null = 'url' in o.broker ? await subscribe(brokerUrl) : null;

  const t0 = Date.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(process.env.GW_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      '--import',
      'tsx',
      join(ROOT, 'gateway', 'cli.ts'),
      'run',
      '--config',
      file,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, GATEWAY_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  // The gateway's own log, for finding out where time went (kept with --keep).
  const logFile = createWriteStream(join(o.dir, 'gateway.log'));
  let tail = '';
  let running = false;
  let lineBuf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    logFile.write(d);
    lineBuf += d;
    const lines = lineBuf.split('\n');
    lineBuf = lines.pop()!;
    for (const l of lines) {
      tail = `${tail}${l}\n`.slice(-4000);
      if (l.includes('"gateway running"')) running = true;
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (tail = (tail + d).slice(-4000)));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));

  const meter = new TreeMeter(() => (child.pid ? [child.pid] : []));
  try {
    const startBy = Date.now() + 300_000;
    while (!running) {
      if (child.exitCode !== null) throw new Error(`gateway exited (${child.exitCode}) before it was running:\n${tail}`);
      if (Date.now() > startBy) throw new Error(`gateway not running within 300 s:\n${tail}`);
      await sleep(200);
    }
    const startupS = (Date.now() - t0) / 1000;
    client ??= await subscribe(brokerUrl);
    o.log(`  gateway running after ${startupS.toFixed(1)} s; measuring ${o.seconds} s`);
    meter.start();
    measuring = true;
    const end = Date.now() + o.seconds * 1000;
    let next = 0;
    while (Date.now() < end) {
      if (Date.now() >= next) {
        meter.samplePss();
        next = Date.now() + 5000;
      }
      if (child.exitCode !== null) throw new Error(`gateway exited (${child.exitCode}) while measured:\n${tail}`);
      await sleep(Math.min(1000, Math.max(0, end - Date.now())));
    }
    const cores = meter.cores();
    const split = meter.split();
    meter.samplePss();

    // The last warning's RTP may still be under way: give the recorders their 1 s gap.
    await sleep(1500);
    for (const r of recorders) r.stop();
    const latencies: number[] = [];
    const warningAt: number[] = [];
    const firstPerCamera = new Map<string, GatewayEvent>();
    for (const e of events) if (!firstPerCamera.has(e.camera)) firstPerCamera.set(e.camera, e);
    for (const e of firstPerCamera.values()) {
      const i = Number(e.camera.slice(4)) - 1;
      const spurt = recorders[i]?.spurts.find((s) => s.startedAt >= e.confirmedAt - 1000);
      if (spurt) latencies.push((spurt.startedAt - e.confirmedAt) / 1000);
      const w = warnings.get(e.id);
      if (w !== undefined) warningAt.push((w - e.confirmedAt) / 1000);
    }
    return {
      intervals: o.urls.map((_, i) => health.get(cameraId(i))?.interval ?? null),
      worstIntervals: o.urls.map((_, i) => worst.get(cameraId(i)) ?? null),
      found: [...firstPerCamera.keys()],
      cores,
      split,
      pssMiB: meter.peakPssMiB(),
      latencies,
      warningAt,
      overloaded,
      startupS,
    };
  } finally {
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
    for (const r of recorders) r.stop();
    logFile.end();
    await client?.endAsync().catch(() => undefined);
    if (o.audioCache && existsSync(audioDir)) cpSync(audioDir, o.audioCache, { recursive: true });
  }
}
