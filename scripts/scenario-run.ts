/**
 * Runs scenario videos through the real gateway: ffmpeg decodes each video's key frames,
 * the real model detects, the tracker and the rules of the scenario's zones decide, and
 * the event service records. Each video is one camera with `clock: media`: it is analysed
 * as fast as the detector goes, every frame stamped with its time in the video, so a
 * 30-minute scene takes well under a minute and every dwell is measured as filmed.
 *
 *   node --import tsx scripts/scenario-run.ts street-vending parking-30min [--frames] [--log]
 *
 * prints each scenario's event timeline next to the expected one (its `expect` list) and
 * exits non-zero when they differ. `--frames` prints what the model saw in every frame.
 */
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { ensureScenario, loadScenario, type ExpectedEvent, type Scenario } from './scenario.ts';
import { parseSettings } from '../gateway/settings/load.ts';
import { Gateway } from '../gateway/controller.ts';
import { createLogger, silentLogger } from '../gateway/log.ts';
import { ROOT } from '../gateway/paths.ts';
import type { Detection } from '../gateway/detect/types.ts';
import type { EventRecord } from '../gateway/events/types.ts';

export interface SeenFrame {
  /** Seconds into the video. */
  t: number;
  detections: Detection[];
}

export interface SeenEvent {
  type: string;
  zone: string;
  /** Seconds into the video. */
  confirmedS: number;
  firstSeenS: number;
  classes: string[];
  trackIds: number[];
  box: readonly number[];
  id: string;
}

export interface ScenarioResult {
  name: string;
  scenario: Scenario;
  /** Wall-clock ms the video's start stands for. */
  base: number;
  frames: SeenFrame[];
  events: SeenEvent[];
  /** Wall-clock seconds the analysis took. */
  tookS: number;
  /** Frames the still gate kept from inference (not in `frames`). */
  stillSkipped: number;
  /** Of those, the frames never decoded (the P-frames said still; node-av). */
  quietSkipped: number;
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

/** The settings of a gateway with one media-clock camera per scenario. */
export function scenarioSettings(
  items: { name: string; scenario: Scenario; video: string }[],
  o: { dataDir: string; mqttUrl?: string; embeddedPort?: number; model?: string; filesDir?: string; camera?: Record<string, unknown> },
): string {
  const tracking = items.find((i) => i.scenario.tracking)?.scenario.tracking;
  const settings = {
    gateway: { id: 'gw-scenarios', data_dir: o.dataDir },
    mqtt: o.mqttUrl ? { url: o.mqttUrl, prefix: 't' } : { prefix: 't', embedded: { host: '127.0.0.1', port: o.embeddedPort } },
    http: { enabled: false },
    stats: { interval_s: 0 },
    ...(tracking ? { tracking } : {}),
    ...(o.model ? { detector: { model: o.model } } : {}),
    ...(o.filesDir ? { models: { files_dir: o.filesDir } } : {}),
    cameras: items.map(({ name, scenario, video }) => {
      if (!scenario.zones?.length) throw new Error(`scenario ${name} has no zones to run`);
      const { interval_s: interval = 1, ...camera } = scenario.camera ?? {};
      return {
        id: name,
        url: video,
        clock: 'media',
        interval_s: interval,
        location: { lat: 28.7712, lon: 118.5553 },
        ...camera,
        ...o.camera,
        zones: scenario.zones,
      };
    }),
  };
  return stringify(settings);
}

/** Runs the scenarios side by side, one camera each, in one gateway, until every video has ended. */
export async function runScenarios(
  names: string[],
  o: {
    mqttUrl?: string;
    log?: boolean;
    timeoutMs?: number;
    onGateway?: (gw: Gateway) => void;
    /** Another detector model than the settings' default, and where its weights are. */
    model?: string;
    filesDir?: string;
    /** Camera settings over every scenario's own (e.g. still_max_s: 0 turns the still gate off). */
    camera?: Record<string, unknown>;
  } = {},
): Promise<Map<string, ScenarioResult>> {
  const out = join(ROOT, 'data', 'scenarios');
  const items: { name: string; scenario: Scenario; video: string }[] = [];
  // One at a time: ffmpeg already uses every core while composing.
  for (const n of names) items.push({ name: basename(n, '.json'), scenario: loadScenario(n), video: await ensureScenario(n, { out }) });
  const dir = mkdtempSync(join(tmpdir(), 'gw-scenario-'));
  const file = join(dir, 'settings.yaml');
  const yaml = scenarioSettings(items, {
    dataDir: join(dir, 'data'),
    mqttUrl: o.mqttUrl,
    embeddedPort: o.mqttUrl ? undefined : await freePort(),
    model: o.model,
    filesDir: o.filesDir,
    camera: o.camera,
  });
  writeFileSync(file, yaml);
  const results = new Map<string, ScenarioResult>();
  for (const { name, scenario } of items)
    results.set(name, { name, scenario, base: NaN, frames: [], events: [], tookS: 0, stillSkipped: 0, quietSkipped: 0 });
  // What the tracker gets: every model's detections and the static-change regions, merged.
  const onDetections = (camera: string, frame: { ts: number }, detections: readonly Detection[]) => {
    const r = results.get(camera);
    if (!r) return;
    if (Number.isNaN(r.base)) r.base = frame.ts;
    r.frames.push({ t: (frame.ts - r.base) / 1000, detections: detections.map((x) => ({ ...x })) });
  };
  const gw = new Gateway({
    config: parseSettings(yaml, file),
    log: o.log ? createLogger('debug', 'pretty') : silentLogger(),
    onDetections,
  });
  const started = Date.now();
  try {
    await gw.start();
    gw.ctx.bus.on('event.transition', ({ event: e, from }) => {
      const r = results.get(e.camera);
      if (from === null && r) r.events.push(seen(e, r.base));
    });
    o.onGateway?.(gw);
    const deadline = Date.now() + (o.timeoutMs ?? 300_000);
    for (;;) {
      const pending = [...gw.pipelines.values()].filter((p) => !p.capture.ended);
      if (!pending.length) break;
      if (Date.now() > deadline)
        throw new Error(`scenarios still running after ${o.timeoutMs ?? 300_000} ms: ${pending.map((p) => p.camera.id).join(', ')}`);
      await new Promise((ok) => setTimeout(ok, 100));
    }
    // The last frames' events are being written (evidence first, then the row).
    await new Promise((ok) => setTimeout(ok, 500));
    for (const r of results.values()) {
      r.tookS = (Date.now() - started) / 1000;
      const h = gw.pipelines.get(r.name)?.health();
      r.stillSkipped = h?.stillSkipped ?? 0;
      r.quietSkipped = h?.quietSkipped ?? 0;
    }
  } finally {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

function seen(e: EventRecord, base: number): SeenEvent {
  return {
    type: e.type,
    zone: e.zone,
    confirmedS: (e.confirmedAt - base) / 1000,
    firstSeenS: (e.firstSeenAt - base) / 1000,
    classes: e.classes,
    trackIds: e.trackIds,
    box: e.box,
    id: e.id,
  };
}

/** What differs between the events and the expected timeline; empty when they match. */
export function compareTimeline(expect: readonly ExpectedEvent[], events: readonly SeenEvent[]): string[] {
  const problems: string[] = [];
  for (const x of expect) {
    const got = events.filter((e) => e.type === x.type && e.zone === x.zone).sort((a, b) => a.confirmedS - b.confirmedS);
    const what = `${x.type} in ${x.zone}`;
    if (got.length !== x.count) {
      problems.push(
        `${what}: ${got.length} events, expected ${x.count}${got.length ? ` (at ${got.map((e) => `${e.confirmedS.toFixed(0)} s`).join(', ')})` : ''}`,
      );
      continue;
    }
    const first = got[0];
    if (!first) continue;
    // One time for the first event, or one for each.
    const times = x.confirm_at_s === undefined ? [] : Array.isArray(x.confirm_at_s) ? x.confirm_at_s : [x.confirm_at_s];
    times.forEach((at, i) => {
      const e = got[i];
      if (e && Math.abs(e.confirmedS - at) > (x.tolerance_s ?? 5))
        problems.push(`${what}: event ${i + 1} confirmed at ${e.confirmedS.toFixed(1)} s, expected ${at} ± ${x.tolerance_s ?? 5} s`);
    });
    const missing = (x.classes ?? []).filter((c) => !first.classes.includes(c));
    if (missing.length) problems.push(`${what}: classes ${first.classes.join(', ')} lack ${missing.join(', ')}`);
    if (x.min_tracks !== undefined && first.trackIds.length < x.min_tracks)
      problems.push(`${what}: ${first.trackIds.length} tracks, expected at least ${x.min_tracks}`);
  }
  // Anything not expected at all is a false event.
  for (const e of events) {
    if (!expect.some((x) => x.type === e.type && x.zone === e.zone))
      problems.push(`unexpected ${e.type} in ${e.zone} at ${e.confirmedS.toFixed(1)} s`);
  }
  return problems;
}

function describeFrame(f: SeenFrame): string {
  const d = f.detections.map((x) => `${x.label} ${x.score.toFixed(2)} [${x.box.map((v) => v.toFixed(3)).join(',')}]`);
  return `${f.t.toFixed(0).padStart(5)} s  ${d.join('  ') || '-'}`;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      frames: { type: 'boolean' },
      log: { type: 'boolean' },
      mqtt: { type: 'string' },
      record: { type: 'string' },
      until: { type: 'string' },
    },
  });
  if (!positionals.length) {
    console.error('usage: scripts/scenario-run.ts NAME... [--frames] [--log] [--mqtt URL]');
    process.exit(2);
  }
  const results = await runScenarios(positionals, { log: values.log, mqttUrl: values.mqtt });
  let failed = false;
  for (const r of results.values()) {
    console.log(`\n== ${r.name}: ${r.scenario.description}`);
    if (values.frames) for (const f of r.frames) console.log(describeFrame(f));
    if (values.record) {
      // What the model saw, as a detection stream other tests can replay (scripts/detections.ts).
      const until = Number(values.until ?? Infinity);
      const frames = r.frames
        .filter((f) => f.t < until)
        .map((f) => ({ t: +f.t.toFixed(3), d: f.detections.map((d) => [d.label, +d.score.toFixed(2), d.box.map((v) => +v.toFixed(3))]) }));
      const interval = r.scenario.camera?.interval_s ?? 1;
      writeFileSync(
        values.record,
        `{"source":${JSON.stringify(`scripts/scenarios/${r.name}.json, YOLOX-Nano`)},"interval_s":${interval},"frames":[\n${frames.map((f) => JSON.stringify(f)).join(',\n')}\n]}\n`,
      );
      console.log(`recorded ${frames.length} frames of detections in ${values.record}`);
    }
    console.log(
      `${r.frames.length} frames analysed, ${r.stillSkipped} skipped as still (${r.quietSkipped} of them not even decoded), in ${r.tookS.toFixed(1)} s`,
    );
    for (const e of r.events)
      console.log(
        `  event ${e.type} in ${e.zone}: first seen ${e.firstSeenS.toFixed(1)} s, confirmed ${e.confirmedS.toFixed(1)} s, ${e.classes.join('+')}, tracks ${e.trackIds.join(',')}`,
      );
    const problems = compareTimeline((r.scenario.expect ?? []) as ExpectedEvent[], r.events);
    for (const p of problems) console.log(`  MISMATCH ${p}`);
    if (!problems.length) console.log('  timeline as expected');
    failed ||= problems.length > 0;
  }
  process.exit(failed ? 1 : 0);
}
