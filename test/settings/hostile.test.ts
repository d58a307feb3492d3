/**
 * Settings that passed `gateway check` and then hurt the running gateway: intervals beyond
 * Node's timer range (which then fire every millisecond), `.inf` and `.nan`, a file with
 * no cameras, bytes that are not UTF-8, and an embedded broker open to the LAN.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadSettings, parseSettings, type ConfigIssue } from '../../gateway/settings/load.ts';
import { only } from '../helpers/config-issues.ts';

const FILE = '/etc/gateway/settings.yaml';
const tmp = mkdtempSync(join(tmpdir(), 'gw-hostile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function issuesOf(fn: () => unknown): ConfigIssue[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error('settings were accepted, expected a ConfigError');
}

const camera = (rule = '{ type: illegal_parking }', top = '') => `gateway: { id: gw-h }
${top}cameras:
  - id: cam-1
    url: rtsp://192.0.2.10/stream2
    location: { lat: 28.77, lon: 118.55 }
    zones: [{ id: z1, polygon: [[0.1, 0.5], [0.9, 0.5], [0.9, 0.95]], rules: [${rule}] }]
`;
const parse = (text: string) => issuesOf(() => parseSettings(text, FILE, {}));
const load = (name: string, bytes: string | Buffer) => {
  const f = join(tmp, name);
  writeFileSync(f, bytes);
  return { f, issues: issuesOf(() => loadSettings(f, {}, { requireCameras: true })) };
};

describe('settings: bounds on intervals and durations', () => {
  it('an interval beyond the timer range is refused, naming the key and line', () => {
    const i = only(parse(camera(undefined, 'stats: { interval_s: 3000000 }\n')), /must be <= 2147483/);
    expect(i.path).toEqual(['stats', 'interval_s']);
    expect(i.line).toBe(2);
  });

  it.each([
    ['mqtt: { will_delay_s: 2147484 }\n', ['mqtt', 'will_delay_s']],
    ['dispatch: { ack_timeout_s: 9999999 }\n', ['dispatch', 'ack_timeout_s']],
    ['warnings: { rate_limit: { window_s: 1e12 } }\n', ['warnings', 'rate_limit', 'window_s']],
  ])('%s is refused', (top, path) => {
    expect(only(parse(camera(undefined, top)), /must be <= 2147483/).path).toEqual(path);
  });

  it('.inf and .nan are refused wherever a number goes', () => {
    const issues = parse(camera('{ type: illegal_parking, dwell_s: .inf }', 'stats: { interval_s: .nan }\n'));
    expect(only(issues, /^NaN is not allowed/).path).toEqual(['stats', 'interval_s']);
    expect(issues.find((i) => /^Infinity is not allowed/.test(i.message))?.path).toEqual(['cameras', 0, 'zones', 0, 'rules', 0, 'dwell_s']);
  });

  it('the largest allowed interval is accepted', () => {
    expect(parseSettings(camera(undefined, 'stats: { interval_s: 2147483 }\n'), FILE, {}).settings.stats.interval_s).toBe(2147483);
  });
});

describe('loadSettings: the file itself', () => {
  it('an empty file (no cameras) is refused with a clear message', () => {
    const { issues } = load('empty.yaml', '');
    expect(only(issues, /no cameras/).message).toContain('at least one camera');
  });

  it('cameras: [] is refused too; tools that need no camera (speaker test) may load it', () => {
    const { f, issues } = load('none.yaml', 'gateway: { id: gw }\ncameras: []\n');
    expect(only(issues, /no cameras/).path).toEqual(['cameras']);
    expect(loadSettings(f, {}).settings.cameras).toEqual([]);
  });

  it('bytes that are not UTF-8 are refused, naming the file and the byte offset', () => {
    const text = Buffer.concat([Buffer.from(camera().replace('gw-h', 'gw-é')), Buffer.from([0x23, 0x20, 0xc3, 0x28, 0x0a])]);
    const good = Buffer.from(camera().replace('gw-h', 'gw-é')).length;
    const { f, issues } = load('latin.yaml', text);
    expect(issues).toHaveLength(1);
    expect(issues[0].message).toBe(`not valid UTF-8 at byte offset ${good + 2} (0xc3); save the file as UTF-8`);
    expect(() => loadSettings(f, {})).toThrow(`${f}: not valid UTF-8`);
  });

  it('a real U+FFFD in the file is valid UTF-8', () => {
    const f = join(tmp, 'fffd.yaml');
    writeFileSync(f, camera().replace('gw-h }', 'gw-h, name: "a\uFFFDb" }'));
    expect(loadSettings(f, {}).settings.gateway.name).toBe('a\uFFFDb');
  });
});

describe('settings: the embedded broker', () => {
  it('bound to the LAN without credentials is refused', () => {
    const i = only(parse(camera(undefined, 'mqtt: { embedded: { host: 0.0.0.0 } }\n')), /open to the LAN/);
    expect(i.path).toEqual(['mqtt', 'embedded', 'host']);
  });

  it('bound to the LAN with a username and password, or to loopback, is accepted', () => {
    expect(() =>
      parseSettings(camera(undefined, 'mqtt: { username: gw, password: secret-pw, embedded: { host: 0.0.0.0 } }\n'), FILE, {}),
    ).not.toThrow();
    expect(() => parseSettings(camera(undefined, 'mqtt: { embedded: { host: 127.0.0.1 } }\n'), FILE, {})).not.toThrow();
  });
});
