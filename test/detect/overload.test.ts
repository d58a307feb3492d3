/**
 * More cameras than the box can analyse: the real YOLOX-Nano made slower (extra work
 * chained into every run, outputs unchanged: scripts/onnx-tools.ts withExtraWork), twelve
 * file cameras of a taxi that drives onto a plaza and parks, each asking for a frame every
 * 2 s. Every camera gets its fair share of turns, none is starved, the platform gets the
 * `overloaded` alert with how far behind and what to do, `gateway status` says so, and
 * every parked taxi still becomes an event, later than on a box that keeps up.
 *
 * The still gate is off here (still_max_s: 0): with it, twelve parked taxis whose events
 * are raised are twelve still scenes, their frames skip inference and the box catches up,
 * which is the gate's point (test/rules/still-gate.test.ts) but not this test's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { statusCommand } from '../../gateway/cli/status.ts';
import type { Gateway } from '../../gateway/controller.ts';
import type { LoadedSettings } from '../../gateway/settings/load.ts';
import { MODELS_DIR, ROOT } from '../../gateway/paths.ts';
import { ensureScenario } from '../../scripts/scenario.ts';
import { withExtraWork } from '../../scripts/onnx-tools.ts';

const CAMERAS = 12;
const FILES = join(MODELS_DIR, 'files');

describe.runIf(havePeers('ffmpeg', 'mosquitto'))('overload: more cameras than the box can take', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let gw: Gateway;
  let config: LoadedSettings;
  const dir = tempDir('gw-overload-');
  const startedAt = Date.now();
  /** Camera → when each of its frames came back from the model. */
  const analysed = new Map<string, number[]>();

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url);
    const clip = await ensureScenario('parking-stay', { out: join(ROOT, 'data', 'scenarios') });
    const models = join(dir, 'models');
    mkdirSync(models, { recursive: true });
    copyFileSync(join(MODELS_DIR, 'coco80.labels'), join(models, 'coco80.labels'));
    // About half a second of extra work per run on one thread: roughly 2 analyses/s for
    // the 6/s the twelve cameras ask for.
    const bytes = withExtraWork(readFileSync(join(FILES, 'yolox_nano.onnx')), 20, 1024);
    writeFileSync(join(models, 'yolox_slow.onnx'), bytes);
    const manifest = JSON.parse(readFileSync(join(MODELS_DIR, 'yolox_nano.json'), 'utf8'));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(
      join(models, 'yolox_slow.json'),
      JSON.stringify({ ...manifest, id: 'yolox_slow', file: 'yolox_slow.onnx', sha256, bytes: bytes.length }),
    );
    const cams = Array.from(
      { length: CAMERAS },
      (_, i) => `
  - id: cam-${String(i).padStart(2, '0')}
    url: ${clip}
    interval_s: 2
    still_max_s: 0
    location: { lat: 28.77, lon: 118.55 }
    zones:
      - id: plaza
        polygon: [[0.45, 0.78], [0.98, 0.78], [0.98, 0.999], [0.45, 0.999]]
        rules: [{ type: illegal_parking, dwell_s: 20 }]`,
    ).join('');
    config = settingsAt(
      dir,
      `
gateway: { id: gw-ov, data_dir: ${dir}/data }
mqtt: { url: '${broker.url}', prefix: ov }
models: { dir: ${models}, files_dir: ${models} }
detector: { model: yolox_slow, threads: 1, batch: 1 }
tracking: { max_missed_s: 4 }
cameras:${cams}
`,
    );
    gw = await startGateway(config, {
      onDetections: (camera) => analysed.get(camera)?.push(Date.now()) ?? analysed.set(camera, [Date.now()]),
    });
  }, 180_000);

  afterAll(async () => {
    await gw?.stop();
    await heard?.close();
    await broker?.stop();
  });

  it('alerts the platform that it is behind, by how much and what to do', async () => {
    const alert = await heard.waitFor(
      (m) => m.topic === 'ov/v1/gateways/gw-ov/alerts' && m.json?.kind === 'overloaded',
      120_000,
      'overloaded alert',
    );
    expect(alert.json).toMatchObject({ gateway: 'gw-ov', event_id: null, behind: { of: CAMERAS, interval_s: 2 } });
    const b = alert.json!.behind;
    // The alert comes as soon as the box is behind, while the slower medians of some cameras
    // still catch up: later, status finds most of them behind (the last test).
    expect(b.cameras).toBeGreaterThanOrEqual(1);
    expect(b.cameras).toBeLessThanOrEqual(CAMERAS);
    expect(b.analysis_interval_s).toBeGreaterThan(3);
    expect(b.needed_per_s).toBe(6);
    expect(b.analyses_per_s).toBeLessThan(4);
    expect(alert.json!.message).toMatch(/overloaded: \d+ of 12 cameras are analysed every [\d.]+ s instead of every 2 s/);
    expect(alert.json!.message).toMatch(/fewer cameras on this box \(about \d+ fit\), set a longer interval_s, or use a lighter model/);
    // Once per episode.
    expect(heard.find((m) => m.json?.kind === 'overloaded')).toHaveLength(1);
  }, 130_000);

  it('still finds every parked taxi, later than the dwell alone', async () => {
    const events = () => heard.find((m) => m.topic === 'ov/v1/gateways/gw-ov/events' && m.json?.type === 'illegal_parking');
    const deadline = Date.now() + 150_000;
    while (new Set(events().map((m) => m.json!.camera.id)).size < CAMERAS && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 1000));
    const cams = new Set(events().map((m) => m.json!.camera.id));
    expect([...cams].sort()).toEqual(Array.from({ length: CAMERAS }, (_, i) => `cam-${String(i).padStart(2, '0')}`));
    // The taxi stands still from 9 s into the clip; a 20 s dwell would fire at about 29 s.
    const first = Math.min(...events().map((m) => m.at)) - startedAt;
    expect(first).toBeGreaterThan(29_000);
  }, 160_000);

  it('gives every camera its fair share: similar numbers of analyses, all behind together, none starved', async () => {
    expect(gw.cameraHealth()).toHaveLength(CAMERAS);
    for (const h of gw.cameraHealth()) expect(h.analysisIntervalS, h.camera).toBeGreaterThan(0);
    // Counted over the whole overloaded stretch (from 20 s after the first analysis, once
    // every camera runs): a short lucky or unlucky run of turns, which a median of the last
    // few intervals would magnify, does not decide it.
    const from = Math.min(...[...analysed.values()].map((ts) => ts[0])) + 20_000;
    await new Promise((ok) => setTimeout(ok, Math.max(0, from + 30_000 - Date.now())));
    const now = Date.now();
    const windowS = (now - from) / 1000;
    const counts = new Map<string, number>();
    const gaps: number[] = [];
    for (let i = 0; i < CAMERAS; i++) {
      const cam = `cam-${String(i).padStart(2, '0')}`;
      const ts = (analysed.get(cam) ?? []).filter((t) => t >= from);
      counts.set(cam, ts.length);
      for (let j = 1; j < ts.length; j++) gaps.push(ts[j] - ts[j - 1]);
      // Behind together: fewer analyses than the one per 2 s each camera asks for.
      expect(ts.length, cam).toBeLessThan((0.75 * windowS) / 2);
      expect(ts.length, cam).toBeGreaterThan(0);
    }
    const n = [...counts.values()];
    expect(Math.max(...n) / Math.min(...n), JSON.stringify(Object.fromEntries(counts))).toBeLessThan(1.6);
    const median = [...gaps].sort((a, b) => a - b)[gaps.length >> 1];
    for (const [cam, ts] of analysed) expect(now - ts.at(-1)!, cam).toBeLessThan(3 * median);
  }, 60_000);

  it('health carries the achieved interval and gateway status says the box is overloaded', async () => {
    await heard.waitFor(
      (m) => m.topic.startsWith('ov/v1/gateways/gw-ov/cameras/') && typeof m.json?.analysis_interval_s === 'number',
      40_000,
      'health with analysis_interval_s',
    );
    const lines: string[] = [];
    const code = await statusCommand(config, (l) => lines.push(l));
    const text = lines.join('\n');
    expect(text).toMatch(/cam-\d\d\s+online\s+\d+ frames\/min, analysed every [\d.]+ s \(wants 2 s\)/);
    expect(text).toMatch(/OVERLOADED: \d+ camera\(s\) analysed less often than their interval_s .* use a lighter model/);
    expect(Number(/OVERLOADED: (\d+) camera/.exec(text)![1])).toBeGreaterThanOrEqual(CAMERAS / 2);
    expect(code).toBe(1);
  }, 60_000);
});
