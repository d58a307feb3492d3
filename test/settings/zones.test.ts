/**
 * Zone settings a technician writes (masks, schedules, per-rule overrides) and the
 * mistakes `gateway check` must explain, each with file, line and key path.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseSettings, type ConfigIssue } from '../../gateway/settings/load.ts';
import { only } from '../helpers/config-issues.ts';
import { resolveZoneRules } from '../../gateway/rules/zone-rules.ts';
import { CATALOGUE } from '../../gateway/rules/catalogue.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const FILE = '/etc/gateway/settings.yaml';
const tmp = mkdtempSync(join(tmpdir(), 'gw-zones-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** One camera; `zone` is the text of its one zone from `polygon:` on (line 8 onwards). */
function settings(zone: string, o: { camera?: string; top?: string } = {}): string {
  return `${o.top ?? ''}cameras:
  - id: cam-1
    url: rtsp://192.0.2.10/stream2
    location: { lat: 28.77, lon: 118.55 }
${o.camera ?? ''}    zones:
      - id: z1
        name: 东门口
${zone}`;
}
const SQUARE = '        polygon: [[0.1, 0.5], [0.9, 0.5], [0.9, 0.95], [0.1, 0.95]]\n';

function issuesOf(text: string): ConfigIssue[] {
  try {
    parseSettings(text, FILE, {});
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error('settings were accepted, expected a ConfigError');
}

describe('zone settings that are accepted', () => {
  it('mask, schedule and every per-rule override reach the rules', () => {
    const text = settings(`${SQUARE}        mask: [[[0.1, 0.5], [0.3, 0.5], [0.3, 0.95], [0.1, 0.95]]]
        schedule:
          active: [{ days: [mon, tue, wed, thu, fri], from: '07:00', to: '19:00' }]
          inactive: [{ dates: ['2025-10-01'] }]
        rules:
          - type: illegal_parking
          - type: street_vending
            classes: [umbrella, dining table]
            min_count: 2
            min_area: 0.01
            dwell_s: 600
            grace_s: 60
            cooldown_s: 900
            stationary: false
            require_person_within: 2
            anchor: foot
            schedule: { inactive: [{ from: '18:00', to: '22:00' }] }
          - { type: mobile_vendor, require_person_within: false }
`);
    const s = parseSettings(text, FILE, {}).settings;
    const [parking, vending, mobile] = resolveZoneRules(s.cameras[0], {}, s.gateway.timezone);
    expect(parking).toMatchObject({
      dwellS: CATALOGUE.illegal_parking.dwellS,
      personWithin: null,
      anchor: 'foot',
      mask: [
        [
          [0.1, 0.5],
          [0.3, 0.5],
          [0.3, 0.95],
          [0.1, 0.95],
        ],
      ],
    });
    expect(vending).toMatchObject({
      minCount: 2,
      minArea: 0.01,
      dwellS: 600,
      graceS: 60,
      cooldownS: 900,
      stationary: false,
      personWithin: 2,
      anchor: 'foot',
    });
    expect([...vending.classes]).toEqual(['umbrella', 'dining table']);
    expect(mobile.personWithin).toBeNull();
    // The zone's schedule: Tuesday 10:00 in Shanghai runs, Saturday does not, 1 October does not.
    expect(parking.schedule.isActive(Date.parse('2025-06-03T10:00:00+08:00'))).toBe(true);
    expect(parking.schedule.isActive(Date.parse('2025-06-07T10:00:00+08:00'))).toBe(false);
    expect(parking.schedule.isActive(Date.parse('2025-10-01T10:00:00+08:00'))).toBe(false);
    // The rule's own replaces it: Saturday 10:00 runs, 19:00 on a Tuesday does not.
    expect(vending.schedule.isActive(Date.parse('2025-06-07T10:00:00+08:00'))).toBe(true);
    expect(vending.schedule.isActive(Date.parse('2025-06-03T19:00:00+08:00'))).toBe(false);
    // Defaults filled in: from 00:00 to 24:00.
    expect(s.cameras[0].zones[0].schedule!.inactive![0]).toEqual({ dates: ['2025-10-01'], from: '00:00', to: '24:00' });
    expect(s.cameras[0].clock).toBe('wall');
  });
});

describe('zone mistakes `gateway check` explains', () => {
  it('a self-intersecting mask', () => {
    const i = only(
      issuesOf(
        settings(`${SQUARE}        mask: [[[0.2, 0.6], [0.4, 0.9], [0.4, 0.6], [0.2, 0.9]]]\n        rules: [{ type: illegal_parking }]\n`),
      ),
      /crosses itself/,
    );
    expect(i.message).toBe('mask polygon crosses itself (edge 1 crosses edge 3); list the points in order around the area');
    expect(i.path).toEqual(['cameras', 0, 'zones', 0, 'mask', 0]);
    expect(i.line).toBe(9);
  });

  it('a mask outside its zone, which would ignore nothing', () => {
    const i = only(
      issuesOf(settings(`${SQUARE}        mask: [[[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]]\n        rules: [{ type: illegal_parking }]\n`)),
      /outside zone/,
    );
    expect(i.message).toContain('zone "z1"');
    expect(i.path).toEqual(['cameras', 0, 'zones', 0, 'mask', 0]);
  });

  it('coordinates in pixels: one message per polygon, with the hint', () => {
    const issues = issuesOf(
      settings('        polygon: [[100, 200], [640, 200], [640, 360], [100, 360]]\n        rules: [{ type: illegal_parking }]\n'),
    );
    const i = only(issues, /between 0 and 1/);
    expect(i.message).toContain('look like pixels: divide x by the picture width and y by its height');
    expect(i.path).toEqual(['cameras', 0, 'zones', 0, 'polygon']);
    expect(i.line).toBe(8);
    expect(issues.filter((x) => /must be <=/.test(x.message))).toEqual([]);
  });

  it('an unknown class, a class nothing can report, and two rules of one type', () => {
    const issues = issuesOf(
      settings(`${SQUARE}        rules:
          - { type: street_vending, classes: [umbrella, stal] }
          - type: illegal_advertising
          - { type: street_vending, dwell_s: 60 }
`),
    );
    expect(only(issues, /unknown class/).path).toEqual(['cameras', 0, 'zones', 0, 'rules', 0, 'classes', 1]);
    const never = only(issues, /needs a detector/);
    expect(never.message).toContain('illegal_advertising needs a detector of "banner"');
    expect(never.line).toBe(11);
    const dup = only(issues, /already has/);
    expect(dup.message).toContain('zone "z1" already has a street_vending rule (rules[0])');
    expect(dup.path).toEqual(['cameras', 0, 'zones', 0, 'rules', 2, 'type']);
  });

  it('types whose classes include static_change need no model for them', () => {
    expect(() =>
      parseSettings(
        settings(`${SQUARE}        rules: [{ type: garbage_exposure }, { type: material_stacking }, { type: river_floating_debris }]\n`),
        FILE,
        {},
      ),
    ).not.toThrow();
  });

  it('schedule windows that cannot work', () => {
    const issues = issuesOf(
      settings(`${SQUARE}        schedule:
          active: [{ days: [mon], dates: ['2025-06-02'] }, { from: '08:00', to: '08:00' }, { days: [monday], from: '7:00' }]
        rules: [{ type: illegal_parking }]
`),
    );
    expect(only(issues, /either days or dates/).path).toEqual(['cameras', 0, 'zones', 0, 'schedule', 'active', 0, 'dates']);
    expect(only(issues, /is empty/).message).toContain('08:00-08:00');
    expect(only(issues, /must be one of/).message).toContain('"mon"');
    expect(only(issues, /must match pattern/).path).toEqual(['cameras', 0, 'zones', 0, 'schedule', 'active', 2, 'from']);
  });

  it('dwell shorter than the analysis interval, and tracks that cannot survive one missed frame', () => {
    const issues = issuesOf(
      settings(`${SQUARE}        rules: [{ type: river_intrusion, dwell_s: 4 }]\n`, { camera: '    interval_s: 5\n' }),
    );
    expect(only(issues, /shorter than/).message).toBe("dwell 4 s is shorter than the camera's analysis interval 5 s");
    const missed = only(issues, /max_missed_s/);
    expect(missed.message).toContain('set tracking.max_missed_s to at least 10');
    expect(missed.path).toEqual(['cameras', 0, 'interval_s']);
    expect(() =>
      parseSettings(
        settings(`${SQUARE}        rules: [{ type: illegal_parking }]\n`, {
          camera: '    interval_s: 5\n',
          top: 'tracking: { max_missed_s: 12 }\n',
        }),
        FILE,
        {},
      ),
    ).not.toThrow();
  });

  it('clock: media on a live stream', () => {
    const i = only(
      issuesOf(settings(`${SQUARE}        rules: [{ type: illegal_parking }]\n`, { camera: '    clock: media\n' })),
      /clock: media/,
    );
    expect(i.path).toEqual(['cameras', 0, 'clock']);
  });

  it('bad overrides: require_person_within and anchor', () => {
    const issues = issuesOf(settings(`${SQUARE}        rules: [{ type: street_vending, require_person_within: -1, anchor: feet }]\n`));
    expect(issues.some((i) => i.path.join('.') === 'cameras.0.zones.0.rules.0.require_person_within')).toBe(true);
    expect(only(issues, /must be one of "foot", "centre", "box"/).path).toEqual(['cameras', 0, 'zones', 0, 'rules', 0, 'anchor']);
  });

  it('gateway check prints file:line:col, key path and the message, and fails', async () => {
    const file = join(tmp, 'bad.yaml');
    writeFileSync(
      file,
      settings(
        '        polygon: [[0.1, 0.5], [0.9, 0.95], [0.9, 0.5], [0.1, 0.95]]\n        rules: [{ type: illegal_parking, classes: [lorry] }]\n',
      ),
    );
    const r = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'gateway', 'cli.ts'), 'check', '--config', file], {
      cwd: ROOT,
    }).catch((e) => e as { code: number; stdout: string; stderr: string });
    expect((r as { code?: number }).code).not.toBe(0);
    const out = `${r.stdout}${r.stderr}`;
    expect(out).toContain(`${file}:8:18: cameras[0].zones[0].polygon: polygon crosses itself (edge 1 crosses edge 3)`);
    expect(out).toMatch(/bad\.yaml:9:\d+: cameras\[0\]\.zones\[0\]\.rules\[0\]\.classes\[0\]: unknown class "lorry"/);
  });
});
