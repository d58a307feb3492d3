/**
 * The gateway benchmark itself, small: two file cameras for about 40 s through the real
 * gateway (child process), mosquitto, the real model and ffmpeg. Every column is there
 * with a figure, both parked taxis become events, and the warning reaches each speaker.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../gateway/paths.ts';
import { havePeers } from '../peers/require.ts';
import { COLUMNS, type Row } from '../../scripts/bench/table.ts';

const run = promisify(execFile);

describe.runIf(havePeers('ffmpeg', 'mosquitto', 'espeak-ng'))('bench-gateway at N=2', () => {
  it('prints every column and finds 2 of 2 parked cars', async () => {
    const { stdout, stderr } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'scripts', 'bench-gateway.ts'),
        '--cameras',
        '2',
        '--seconds',
        '40',
        '--bare-seconds',
        '8',
        '--frigate',
        '1',
        '--frigate-seconds',
        '8',
        '--json',
      ],
      { cwd: ROOT, timeout: 240_000, maxBuffer: 16 << 20 },
    );
    const { meta, rows } = JSON.parse(stdout) as { meta: Record<string, unknown>; rows: Row[] };
    expect(meta.machine).toMatch(/shared/);
    expect(rows).toHaveLength(1);
    const r = rows[0];
    expect(r).toMatchObject({ source: 'file', cameras: 2, interval_s: 2, events_found: 2, events_expected: 2, achieved_missing: 0 });
    for (const k of [
      'achieved_p50_s',
      'achieved_p95_s',
      'achieved_max_s',
      'analyses_per_s',
      'needed_per_s',
      'gateway_cores',
      'pss_mib',
      'latency_p95_s',
      'warning_message_p95_s',
      'bare_ffmpeg_cores',
      'bare_ort_cores',
      'bare_cores',
      'gateway_vs_bare',
      'cameras_per_core',
      'frigate_cameras_per_core',
      'vs_frigate',
    ] as const) {
      expect(r[k], k).toBeTypeOf('number');
      expect(Number.isFinite(r[k]), k).toBe(true);
    }
    // Two cameras keep up: analysed about every 2 s, one analysis per second in all.
    expect(r.achieved_p95_s!).toBeLessThan(4);
    expect(r.needed_per_s).toBe(1);
    expect(r.gateway_cores).toBeGreaterThan(0);
    expect(r.bare_ffmpeg_cores).toBeGreaterThan(0);
    expect(r.bare_ort_cores).toBeGreaterThan(0);
    // A gateway with its ffmpegs, Node and onnxruntime is more than a few MiB and less than a few GiB.
    expect(r.pss_mib).toBeGreaterThan(50);
    expect(r.pss_mib).toBeLessThan(4096);
    expect(r.latency_p95_s!).toBeGreaterThanOrEqual(0);
    // The printed table has every column and the row.
    const header = stderr.split('\n').find((l) => l.startsWith('| source'));
    expect(header).toBeDefined();
    for (const c of COLUMNS) expect(header).toContain(c);
    expect(stderr).toMatch(/^\| file +\| 2 +\| .*\| 2 of 2 +\|/m);
  }, 300_000);
});
