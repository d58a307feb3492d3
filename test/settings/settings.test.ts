/**
 * The settings loader: schema, semantics and where each problem is reported (file, line,
 * column, key path), plus the `gateway check` command line.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadSettings, parseSettings, type ConfigIssue } from '../../gateway/settings/load.ts';
import { only } from '../helpers/config-issues.ts';
import { SettingsSchema } from '../../gateway/settings/schema.ts';
import { MODELS_DIR } from '../../gateway/paths.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const FILE = '/etc/gateway/settings.yaml';
const tmp = mkdtempSync(join(tmpdir(), 'gw-settings-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Parses and returns the ConfigError's issues; fails the test when the text is accepted. */
function issuesOf(text: string, env: NodeJS.ProcessEnv = {}, file = FILE): ConfigIssue[] {
  try {
    parseSettings(text, file, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).file).toBe(file);
    return (e as ConfigError).issues;
  }
  throw new Error('settings were accepted, expected a ConfigError');
}

/** One camera with one zone; `zone` and `extra` replace parts of it. Line numbers are stable. */
function camera(o: { polygon?: string; rules?: string; speakers?: string; cameraExtra?: string; top?: string } = {}): string {
  return `version: 1
gateway:
  id: gw-test
${o.top ?? ''}cameras:
  - id: cam-1
    url: rtsp://192.0.2.10/stream2
    location: { lat: 28.77, lon: 118.55 }
    speakers: ${o.speakers ?? '[spk-1]'}
${o.cameraExtra ?? ''}    zones:
      - id: z1
        polygon: ${o.polygon ?? '[[0.1, 0.5], [0.9, 0.5], [0.9, 0.95], [0.1, 0.95]]'}
        rules:
${o.rules ?? '          - type: illegal_parking\n'}speakers:
  - id: spk-1
    url: rtp://192.0.2.50:5004
`;
}

describe('parseSettings: accepted files', () => {
  it('fills in defaults (interval_s, transport, codec, tracking, detector)', () => {
    const s = parseSettings(camera(), FILE, {}).settings;
    const cam = s.cameras[0];
    expect(cam.interval_s).toBe(1);
    expect(cam.transport).toBe('tcp');
    expect(cam.enabled).toBe(true);
    expect(cam.stall_s).toBe(15);
    expect(s.speakers[0].codec).toBe('pcma');
    expect(s.speakers[0].gain_db).toBe(0);
    expect(s.tracking).toEqual({ max_missed_s: 8, stationary_ratio: 0.15 });
    expect(s.detector.model).toBe('yolox_nano');
    expect(s.gateway.timezone).toBe('Asia/Shanghai');
    expect(s.mqtt.prefix).toBe('township');
    expect(s.mqtt.embedded).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(s.officers).toEqual([]);
  });

  it('an empty file is a valid, all-default configuration', () => {
    const s = parseSettings('', FILE, {}).settings;
    expect(s.version).toBe(1);
    expect(s.gateway.id).toBe('gateway');
    expect(s.cameras).toEqual([]);
  });

  it('resolves paths against the settings file folder', () => {
    const l = parseSettings('gateway: { data_dir: ./data }\n', '/srv/box/settings.yaml', {});
    expect(l.dir).toBe('/srv/box');
    expect(l.file).toBe('/srv/box/settings.yaml');
    expect(l.resolvePath(l.settings.gateway.data_dir)).toBe('/srv/box/data');
  });

  it('substitutes ${ENV} and ${ENV:-default}', () => {
    const text = `mqtt:
  username: \${GW_USER}
  password: pre-\${GW_PASS}-post
  prefix: \${GW_PREFIX:-township_x}
gateway:
  name: \${GW_EMPTY:-fallback name}
`;
    const s = parseSettings(text, FILE, { GW_USER: 'alice', GW_PASS: 's3cr3t', GW_EMPTY: '' }).settings;
    expect(s.mqtt.username).toBe('alice');
    expect(s.mqtt.password).toBe('pre-s3cr3t-post');
    expect(s.mqtt.prefix).toBe('township_x');
    // An empty variable counts as unset, so the default applies.
    expect(s.gateway.name).toBe('fallback name');
    // A set variable wins over the default.
    expect(parseSettings(text, FILE, { GW_USER: 'a', GW_PASS: 'b', GW_PREFIX: 'other' }).settings.mqtt.prefix).toBe('other');
  });
});

describe('parseSettings: problems, with line and column', () => {
  it('a misspelt key gives "unknown key (did you mean ...)" at the key', () => {
    const text = `version: 1
gateway:
  id: gw
  timezon: Asia/Shanghai
`;
    const i = only(issuesOf(text), /unknown key/);
    expect(i.message).toContain('did you mean "timezone"');
    expect(i.path).toEqual(['gateway', 'timezon']);
    expect(i.line).toBe(4);
    expect(i.col).toBe(3);
  });

  it('a misspelt key deep inside a camera is found on its own line', () => {
    const i = only(issuesOf(camera({ cameraExtra: '    intervall_s: 2\n' })), /unknown key/);
    expect(i.message).toContain('did you mean "interval_s"');
    expect(i.path).toEqual(['cameras', 0, 'intervall_s']);
    expect(i.line).toBe(9);
  });

  it('the still gate: still_max_s defaults to 10 s, 0 turns it off, beyond 60 s is refused', () => {
    expect(parseSettings(camera(), FILE, {}).settings.cameras[0].still_max_s).toBe(10);
    expect(parseSettings(camera({ cameraExtra: '    still_max_s: 0\n' }), FILE, {}).settings.cameras[0].still_max_s).toBe(0);
    const i = only(issuesOf(camera({ cameraExtra: '    still_max_s: 61\n' })), /60/);
    expect(i.path).toEqual(['cameras', 0, 'still_max_s']);
  });

  it('a misspelt violation type under warnings.messages gets a suggestion', () => {
    const i = only(issuesOf('warnings:\n  messages:\n    ilegal_parking: 请驶离\n'), /unknown key/);
    expect(i.message).toContain('did you mean "illegal_parking"');
    expect(i.line).toBe(3);
  });

  it('a missing required key is reported at the object that lacks it', () => {
    const text = camera().replace('    location: { lat: 28.77, lon: 118.55 }\n', '');
    const i = only(issuesOf(text), /is required/);
    expect(i.path).toEqual(['cameras', 0, 'location']);
    expect(i.line).toBe(5);
  });

  it('the ConfigError message names file:line:col and the key path', () => {
    try {
      parseSettings('gateway:\n  idd: x\n', FILE, {});
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toBe(`${FILE}:2:3: gateway.idd: unknown key (did you mean "id"?)`);
    }
  });

  it('YAML syntax errors carry a line', () => {
    const issues = issuesOf('version: 1\ngateway:\n  id: gw\n   name: x\n');
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0].message).toMatch(/^YAML: /);
    expect(issues[0].line).toBeGreaterThanOrEqual(3);
    expect(issues[0].line).toBeLessThanOrEqual(4);
  });

  it('a duplicated YAML key is a syntax error with its line', () => {
    const i = issuesOf('gateway:\n  id: a\n  id: b\n')[0];
    expect(i.message).toMatch(/unique/);
    expect(i.line).toBe(3);
  });

  it('a self-intersecting polygon is reported at the polygon, naming the edges', () => {
    const i = only(issuesOf(camera({ polygon: '[[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]' })), /crosses itself/);
    expect(i.path).toEqual(['cameras', 0, 'zones', 0, 'polygon']);
    expect(i.message).toContain('edge 1 crosses edge 3');
    expect(i.line).toBe(11);
  });

  it('a point outside 0..1 is rejected once per polygon, naming the point', () => {
    const i = only(issuesOf(camera({ polygon: '[[0.1, 0.5], [1.2, 0.5], [0.9, 0.95]]' })), /between 0 and 1/);
    expect(i.path).toEqual(['cameras', 0, 'zones', 0, 'polygon']);
    expect(i.message).toContain('point 2 is [1.2,0.5]');
    expect(i.line).toBe(11);
    const neg = only(issuesOf(camera({ polygon: '[[0.1, -0.5], [0.8, 0.5], [0.9, 0.95]]' })), /between 0 and 1/);
    expect(neg.message).toContain('point 1 is [0.1,-0.5]');
  });

  it('a polygon with no area (collinear points) is rejected', () => {
    const i = only(issuesOf(camera({ polygon: '[[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]]' })), /no area/);
    expect(i.path).toEqual(['cameras', 0, 'zones', 0, 'polygon']);
    expect(i.line).toBe(11);
  });

  it('a polygon with fewer than 3 points is rejected', () => {
    const i = only(issuesOf(camera({ polygon: '[[0.1, 0.1], [0.5, 0.5]]' })), /fewer than 3|at least 3|NOT have fewer/i);
    expect(i.path).toEqual(['cameras', 0, 'zones', 0, 'polygon']);
  });

  it('an unknown violation type lists the known ones', () => {
    const i = only(issuesOf(camera({ rules: '          - type: illegal_parkin\n' })), /must be one of/);
    expect(i.path).toEqual(['cameras', 0, 'zones', 0, 'rules', 0, 'type']);
    expect(i.message).toContain('"illegal_parking"');
    expect(i.message).toContain('"open_burning"');
    expect(i.line).toBe(13);
  });

  // Was a bug: one schema error (here an unknown rule type) makes checkSemantics throw (CATALOGUE[type]
  // is undefined) and load.ts swallows the exception, so every semantic problem of the whole
  // file (a crossing polygon in another zone, an unknown speaker) is hidden until the first is fixed.
  it('an unknown violation type does not hide semantic problems elsewhere in the file', () => {
    const text = camera({
      rules: '          - type: illegal_parkin\n',
      speakers: '[spk-404]',
      polygon: '[[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]',
    });
    const issues = issuesOf(text);
    expect(issues.some((i) => /must be one of/.test(i.message))).toBe(true);
    expect(issues.some((i) => /no speaker with id "spk-404"/.test(i.message))).toBe(true);
    expect(issues.some((i) => /crosses itself/.test(i.message))).toBe(true);
  });

  it('duplicate camera, zone, speaker and officer ids', () => {
    const text = `cameras:
  - id: cam-1
    url: rtsp://192.0.2.10/a
    location: { lat: 1, lon: 2 }
    zones:
      - { id: z1, polygon: [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]], rules: [{ type: illegal_parking }] }
      - { id: z1, polygon: [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]], rules: [{ type: illegal_parking }] }
  - id: cam-1
    url: rtsp://192.0.2.11/a
    location: { lat: 1, lon: 2 }
speakers:
  - { id: s1, url: 'rtp://192.0.2.50:5004' }
  - { id: s1, url: 'rtp://192.0.2.51:5004' }
officers:
  - { id: o1, name: A }
  - { id: o1, name: B }
`;
    const issues = issuesOf(text);
    const cam = only(issues, /duplicate camera id "cam-1"/);
    expect(cam.path).toEqual(['cameras', 1, 'id']);
    expect(cam.line).toBe(8);
    expect(only(issues, /duplicate zone id "z1"/).path).toEqual(['cameras', 0, 'zones', 1, 'id']);
    expect(only(issues, /duplicate zone id "z1"/).line).toBe(7);
    expect(only(issues, /duplicate speaker id "s1"/).line).toBe(13);
    expect(only(issues, /duplicate officer id "o1"/).line).toBe(16);
  });

  it('a camera referencing an unknown speaker', () => {
    const i = only(issuesOf(camera({ speakers: '[spk-1, spk-9]' })), /no speaker/);
    expect(i.message).toBe('no speaker with id "spk-9" in speakers');
    expect(i.path).toEqual(['cameras', 0, 'speakers', 1]);
    expect(i.line).toBe(8);
  });

  it('an unsupported speaker URL scheme', () => {
    const text = camera().replace('rtp://192.0.2.50:5004', 'xyz://192.0.2.50');
    const i = only(issuesOf(text), /unsupported speaker scheme/);
    expect(i.message).toContain('"xyz:"');
    expect(i.message).toContain('rtp:');
    expect(i.path).toEqual(['speakers', 0, 'url']);
  });

  it('dwell shorter than the analysis interval, on dwell_s when given, else on type', () => {
    const explicit = only(
      issuesOf(camera({ cameraExtra: '    interval_s: 5\n', rules: '          - type: illegal_parking\n            dwell_s: 2\n' })),
      /shorter than/,
    );
    expect(explicit.message).toBe("dwell 2 s is shorter than the camera's analysis interval 5 s");
    expect(explicit.path).toEqual(['cameras', 0, 'zones', 0, 'rules', 0, 'dwell_s']);
    expect(explicit.line).toBe(15);
    // river_intrusion defaults to 20 s
    const byDefault = only(
      issuesOf(camera({ cameraExtra: '    interval_s: 30\n', rules: '          - type: river_intrusion\n' })),
      /shorter than/,
    );
    expect(byDefault.message).toContain('dwell 20 s');
    expect(byDefault.path).toEqual(['cameras', 0, 'zones', 0, 'rules', 0, 'type']);
  });

  it('an unknown class for the model (static_change is model-free and allowed)', () => {
    const issues = issuesOf(
      camera({ rules: '          - type: garbage_exposure\n            classes: [static_change, car, garbage_pile]\n' }),
    );
    const i = only(issues, /unknown class/);
    expect(i.message).toContain('"garbage_pile"');
    expect(i.message).toContain('yolox_nano');
    expect(i.path).toEqual(['cameras', 0, 'zones', 0, 'rules', 0, 'classes', 2]);
    expect(i.line).toBe(14);
  });

  it('a bad time zone', () => {
    const i = only(issuesOf('gateway:\n  timezone: Mars/Olympus_Mons\n'), /time zone/);
    expect(i.message).toContain('"Mars/Olympus_Mons"');
    expect(i.path).toEqual(['gateway', 'timezone']);
    expect(i.line).toBe(2);
  });

  it('an unset ${ENV} is named, at the line that uses it', () => {
    const text = 'mqtt:\n  username: u\n  password: ${MQTT_PASSWORD}\n';
    const i = only(issuesOf(text, { OTHER: 'x' }), /environment variable/);
    expect(i.message).toBe('environment variable MQTT_PASSWORD is not set');
    expect(i.path).toEqual(['mqtt', 'password']);
    expect(i.line).toBe(3);
  });

  // Was a bug: env substitution runs on parsed values, so a number from the environment stays a
  // string and the schema (coerceTypes: false) rejects it: a port cannot come from ${ENV}.
  it('${ENV:-default} works for numeric settings too', () => {
    const s = parseSettings('mqtt:\n  embedded:\n    port: ${MQTT_PORT:-1884}\n', FILE, {}).settings;
    expect(s.mqtt.embedded.port).toBe(1884);
  });

  it('a camera URL that is neither a stream nor an existing file', () => {
    const i = only(issuesOf(camera().replace('rtsp://192.0.2.10/stream2', 'videos/missing.mp4')), /neither an onvif/);
    expect(i.message).toContain('/etc/gateway/videos/missing.mp4');
    expect(i.path).toEqual(['cameras', 0, 'url']);
  });

  it('reports every problem of a file in one pass', () => {
    const text = camera({
      speakers: '[spk-404]',
      polygon: '[[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]',
      top: 'tracking:\n  max_mised_s: 3\n',
    });
    const issues = issuesOf(text);
    expect(only(issues, /unknown key/).message).toContain('did you mean "max_missed_s"');
    expect(issues.some((i) => /no speaker/.test(i.message))).toBe(true);
    expect(issues.some((i) => /crosses itself/.test(i.message))).toBe(true);
    expect(issues.every((i) => typeof i.line === 'number')).toBe(true);
  });
});

describe('parseSettings: models on disk', () => {
  const modelsDir = join(tmp, 'models');
  const filesDir = join(tmp, 'files');

  it('a missing model manifest names the model and where it looked', () => {
    const text = camera({ top: `models:\n  dir: ${join(tmp, 'empty-models')}\n` });
    const i = only(issuesOf(text), /no manifest/);
    expect(i.message).toContain('model "yolox_nano"');
    expect(i.message).toContain(join(tmp, 'empty-models', 'yolox_nano.json'));
    expect(i.path).toEqual(['detector', 'model']);
  });

  it('a camera model that does not exist is reported on the camera', () => {
    const i = only(issuesOf(camera({ cameraExtra: '    model: no_such_model\n' })), /no manifest/);
    expect(i.message).toContain('model "no_such_model"');
    expect(i.path).toEqual(['cameras', 0, 'model']);
    expect(i.line).toBe(9);
  });

  it('missing weights say where and how to fetch them', () => {
    // Manifests copied into a private folder; weights in an empty one.
    mkdirSync(modelsDir, { recursive: true });
    mkdirSync(filesDir, { recursive: true });
    copyFileSync(join(MODELS_DIR, 'yolox_nano.json'), join(modelsDir, 'yolox_nano.json'));
    copyFileSync(join(MODELS_DIR, 'coco80.labels'), join(modelsDir, 'coco80.labels'));
    const text = camera({ top: `models:\n  dir: ${modelsDir}\n  files_dir: ${filesDir}\n` });
    const i = only(issuesOf(text), /weights/);
    expect(i.message).toContain(`weights ${join(filesDir, 'yolox_nano.onnx')} are missing`);
    expect(i.message).toContain('gateway models fetch');
    expect(i.path).toEqual(['detector', 'model']);
  });

  it('weights of the wrong size are reported', () => {
    writeFileSync(join(filesDir, 'yolox_nano.onnx'), Buffer.alloc(1000));
    const text = camera({ top: `models:\n  dir: ${modelsDir}\n  files_dir: ${filesDir}\n` });
    const i = only(issuesOf(text), /weights/);
    expect(i.message).toContain('have 1000 bytes, expected 3678356');
  });

  it('models.dir and files_dir resolve relative to the settings file', () => {
    copyFileSync(join(MODELS_DIR, 'files', 'yolox_nano.onnx'), join(filesDir, 'yolox_nano.onnx'));
    const file = join(tmp, 'settings.yaml');
    writeFileSync(file, camera({ top: 'models:\n  dir: ./models\n  files_dir: ./files\n' }));
    const l = loadSettings(file, {});
    expect(l.settings.cameras).toHaveLength(1);
    expect(l.resolvePath(l.settings.models.files_dir!)).toBe(filesDir);
  });
});

describe('loadSettings', () => {
  it('an unreadable file is a ConfigError naming the file', () => {
    const f = join(tmp, 'nope.yaml');
    expect(() => loadSettings(f, {})).toThrow(ConfigError);
    expect(() => loadSettings(f, {})).toThrow(`${f}: cannot read the settings file: ENOENT`);
  });

  it('the schema is exported with an $id and no unknown top-level keys allowed', () => {
    expect(SettingsSchema.$id).toMatch(/settings\.json$/);
    expect(SettingsSchema.additionalProperties).toBe(false);
  });
});

describe.concurrent('gateway check (CLI)', () => {
  const cli = (args: string[], env: NodeJS.ProcessEnv) =>
    run(process.execPath, ['--import', 'tsx', 'gateway/cli.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env } }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('exits 0 on config/example.yaml with its secrets set', async () => {
    const r = await cli(['check', '--config', 'config/example.yaml'], {
      MQTT_PASSWORD: 'pw',
      CAM_001_PASSWORD: 'pw2',
      GATEWAY_HTTP_TOKEN: 'a-long-enough-random-token-1234',
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('config/example.yaml: OK (1 cameras, 3 zones, 1 speakers, 2 officers)');
  });

  it('exits non-zero with file:line messages on stderr', async () => {
    const file = join(tmp, 'bad.yaml');
    writeFileSync(file, 'gateway:\n  id: gw\n  timezon: UTC\n');
    const r = await cli(['check', '--config', file], {});
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${file}:3:3: gateway.timezon: unknown key (did you mean "timezone"?)`);
  });

  it('names an unset environment variable and exits non-zero', async () => {
    const env = { ...process.env };
    delete env.MQTT_PASSWORD;
    delete env.CAM_001_PASSWORD;
    const r = await run(process.execPath, ['--import', 'tsx', 'gateway/cli.ts', 'check', '--config', 'config/example.yaml'], {
      cwd: ROOT,
      env,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/config\/example\.yaml:\d+:\d+: mqtt\.password: environment variable MQTT_PASSWORD is not set/);
    expect(r.stderr).toContain('CAM_001_PASSWORD');
  });

  it('without --config exits 2', async () => {
    const r = await cli(['check'], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--config FILE is required');
  });
});
