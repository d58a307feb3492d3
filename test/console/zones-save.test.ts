/** Saving zones into a settings file: comments and layout kept, bad zones refused with their key path, a backup kept. */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveZones } from '../../gateway/console/zones-save.ts';
import { loadSettings } from '../../gateway/settings/load.ts';
import { tempDir } from '../helpers/gateway.ts';

const TEXT = `# site settings: keep this comment
gateway: { id: gw-z }
mqtt: { prefix: z } # no broker needed here
cameras:
  - id: cam
    url: rtsp://127.0.0.1:9/x
    location: { lat: 28.77, lon: 118.55 }
    zones:
      # the pavement by the shop
      - id: shop
        polygon: [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]
        rules:
          - type: illegal_parking # tuned by hand
            dwell_s: 60
`;

const shop = {
  id: 'shop',
  polygon: [
    [0.1, 0.1],
    [0.5, 0.1],
    [0.5, 0.5],
  ] as [number, number][],
  rules: [{ type: 'illegal_parking' as const, dwell_s: 60 }],
};

function setup() {
  const dir = tempDir('gw-zones-');
  const file = join(dir, 'settings.yaml');
  writeFileSync(file, TEXT);
  return file;
}

describe('saving zones from the console', () => {
  it('adds a zone and keeps every comment and the untouched zone as written', () => {
    const file = setup();
    const r = saveZones(file, 'cam', [
      shop,
      {
        id: 'gate',
        name: '大门',
        polygon: [
          [0.6, 0.6],
          [0.9, 0.6],
          [0.9, 0.91234],
        ],
        rules: [{ type: 'street_vending' as const }],
      },
    ]);
    expect(r).toMatchObject({ ok: true, changed: ['gate'] });
    const text = readFileSync(file, 'utf8');
    for (const c of ['# site settings: keep this comment', '# no broker needed here', '# the pavement by the shop', '# tuned by hand'])
      expect(text).toContain(c);
    expect(text).toContain('polygon: [ [ 0.6, 0.6 ], [ 0.9, 0.6 ], [ 0.9, 0.912 ] ]');
    expect(readFileSync(`${file}.bak`, 'utf8')).toBe(TEXT);
    expect(loadSettings(file).settings.cameras[0].zones.map((z) => z.id)).toEqual(['shop', 'gate']);
  });

  it('refuses what gateway check refuses, naming the key, and writes nothing', () => {
    const file = setup();
    const r = saveZones(file, 'cam', [
      { ...shop, rules: [{ type: 'illegal_parking' as const, dwell_s: -1 }] },
      { ...shop, id: 'other', polygon: [[0.1, 0.1]] as [number, number][] },
    ]);
    expect(r.ok).toBe(false);
    const paths = r.ok ? [] : r.issues.map((i) => i.path);
    expect(paths, JSON.stringify(r)).toContain('cameras[0].zones[0].rules[0].dwell_s');
    expect(paths.some((p) => p.startsWith('cameras[0].zones[1]'))).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(TEXT);
    expect(existsSync(`${file}.bak`)).toBe(false);
  });

  it('names an unknown camera', () => {
    const r = saveZones(setup(), 'nope', [shop]);
    expect(r).toEqual({ ok: false, issues: [{ path: '', message: 'no camera "nope" in the settings file' }] });
  });
});
