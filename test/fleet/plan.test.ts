/** `gateway plan`: boxes from the benchmark figures, with how they were measured. */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../gateway/paths.ts';
import { MACHINE, plan } from '../../gateway/fleet/plan.ts';

const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/gateway.mjs'), 'plan', ...args], { encoding: 'utf8' });

describe('gateway plan', () => {
  it('134 cameras at interval 1 s with YOLOX-Nano: 3 boxes, and says how it was measured', () => {
    const r = cli('--cameras', '134');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/3 boxes of this machine type, up to 65 cameras each/);
    expect(r.stdout).toMatch(/Measured on: 2-core/);
    expect(r.stdout).toMatch(/scripts\/bench-ingest\.ts/);
    expect(r.stdout).toMatch(/scripts\/bench-detect\.ts/);
  });

  it('fewer boxes when frames are analysed less often or the model is cheaper; never fewer than the cameras need', () => {
    const base = plan(134, 1, 'yolox_nano');
    expect(plan(134, 4, 'yolox_nano').boxes).toBeLessThan(base.boxes);
    expect(plan(134, 1, 'nanodet_m').camerasPerBox).toBeGreaterThan(base.camerasPerBox);
    // Key frames only: asking for 0.5 s gives no more frames than the 2 s GOP.
    expect(plan(134, 0.5, 'yolox_nano')).toMatchObject({ boxes: base.boxes, framesPerSecondPerCamera: 0.5 });
    for (const n of [1, 65, 66, 500]) {
      const p = plan(n, 1, 'yolox_nano');
      expect(p.boxes * p.camerasPerBox).toBeGreaterThanOrEqual(n);
      expect(p.camerasPerBox * p.corePerCamera).toBeLessThanOrEqual(MACHINE.cores * MACHINE.headroom);
    }
    expect(
      JSON.parse(execFileSync(process.execPath, [join(ROOT, 'bin/gateway.mjs'), 'plan', '--cameras', '10', '--json'], { encoding: 'utf8' }))
        .boxes,
    ).toBe(1);
  });

  it('refuses what it cannot plan, naming the option', () => {
    expect(cli('--cameras', '134', '--model', 'yolov8n').stderr).toMatch(
      /--model yolov8n: no figures for it \(known: yolox_nano, nanodet_m\)/,
    );
    expect(cli('--cameras', 'many').stderr).toMatch(/--cameras must be a whole number above 0/);
    expect(cli().status).toBe(2);
  });

  it("uses the figures the README's benchmark sections report (a new run must update both)", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toMatch(/\| 134 +\| 1\.11 %/);
    expect(readme).toMatch(/\| 16 +\| 49\.3, 33\.9 +\| 69\.3, 49\.3/);
  });
});
