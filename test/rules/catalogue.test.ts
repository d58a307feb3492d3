/** The catalogue: all 12 types, with defaults that hang together, documented as they are. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOGUE, STATIC_CHANGE, VIOLATION_TYPES } from '../../gateway/rules/catalogue.ts';
import { MODEL_FREE_CLASSES } from '../../gateway/settings/semantics.ts';
import { ROOT } from '../../gateway/paths.ts';

describe('the violation catalogue', () => {
  it('has the 12 types of the report, each with its evidence and timings', () => {
    expect(VIOLATION_TYPES).toHaveLength(12);
    for (const t of VIOLATION_TYPES) {
      const d = CATALOGUE[t];
      expect(d.classes.length, t).toBeGreaterThan(0);
      expect(d.dwellS, t).toBeGreaterThan(0);
      expect(d.cooldownS, t).toBeGreaterThanOrEqual(d.graceS);
      expect(d.message, t).toMatch(/[\u4e00-\u9fff]/);
    }
    expect(CATALOGUE.non_motor_parking.minCount).toBe(3);
    expect(CATALOGUE.river_intrusion.dwellS).toBe(20);
    expect(MODEL_FREE_CLASSES.has(STATIC_CHANGE)).toBe(true);
    for (const t of ['garbage_exposure', 'material_stacking', 'river_floating_debris'] as const)
      expect(CATALOGUE[t].classes, t).toContain(STATIC_CHANGE);
    // Opt-in at a shop front, where people stand and the light changes all day.
    expect(CATALOGUE.out_of_store_business.classes).not.toContain(STATIC_CHANGE);
  });

  it('the README table states every default as the code has it', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const t of VIOLATION_TYPES) {
      const d = CATALOGUE[t];
      // Tables may be padded for alignment: any run of spaces before the cell's bar.
      const row = readme.split('\n').find((l) => new RegExp(`^\\| \`${t}\` +\\|`).test(l));
      expect(row, t).toBeDefined();
      const cells = row!
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
      expect(cells, t).toEqual([
        `\`${t}\``,
        d.zh,
        d.classes.join(', '),
        String(d.minCount),
        String(d.minArea),
        `${d.dwellS} s`,
        `${d.graceS} s`,
        `${d.cooldownS} s`,
        d.stationary ? 'yes' : 'no',
        d.personWithin === null ? '–' : String(d.personWithin),
        d.anchor,
      ]);
    }
  });
});
