/** Percentiles and the printed table of the gateway benchmark. */

export function percentile(xs: number[], p: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export interface Row {
  source: 'file' | 'rtsp';
  cameras: number;
  interval_s: number;
  achieved_p50_s: number | null;
  achieved_p95_s: number | null;
  achieved_max_s: number | null;
  /** Over cameras, the worst interval each reported at any time in the run (health every 30 s). */
  worst_p95_s: number | null;
  /** Cameras that never reported an achieved interval (not analysed twice). */
  achieved_missing: number;
  analyses_per_s: number;
  needed_per_s: number;
  events_found: number;
  events_expected: number;
  overloaded_alert: boolean;
  gateway_cores: number;
  pss_mib: number;
  latency_p95_s: number | null;
  /** The same to the warning message's `at` (the attempt's start, before audio is sent). */
  warning_message_p95_s: number | null;
  bare_ffmpeg_cores: number;
  bare_ort_cores: number;
  bare_ort_rate: number;
  bare_cores: number;
  gateway_vs_bare: number;
  cameras_per_core: number;
  frigate_cameras_per_core: number;
  vs_frigate: number;
}

export const COLUMNS = [
  'source',
  'cameras',
  'analysis interval p50 / p95 / max (wants)',
  'worst reported, p95',
  'analyses/s done (needed)',
  'events found',
  'overloaded alert',
  'gateway CPU',
  'PSS',
  'expiry → warning p95',
  'bare floor: ffmpeg + ORT',
  'gateway ÷ bare',
  'cameras per core',
  'Frigate-style cameras per core',
  'vs Frigate-style',
] as const;

const f = (x: number | null, d = 1) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));

export function cells(r: Row): string[] {
  const missing = r.achieved_missing ? `, ${r.achieved_missing} never` : '';
  return [
    r.source,
    String(r.cameras),
    `${f(r.achieved_p50_s)} / ${f(r.achieved_p95_s)} / ${f(r.achieved_max_s)} s (${r.interval_s} s${missing})`,
    `${f(r.worst_p95_s)} s`,
    `${f(r.analyses_per_s)} (${f(r.needed_per_s)})`,
    `${r.events_found} of ${r.events_expected}`,
    r.overloaded_alert ? 'yes' : 'no',
    `${f(r.gateway_cores, 2)} cores`,
    `${Math.round(r.pss_mib)} MiB`,
    `${r.latency_p95_s === null ? '-' : `${f(r.latency_p95_s, 2)} s`} (message ${r.warning_message_p95_s === null ? '-' : `${f(r.warning_message_p95_s, 2)} s`})`,
    `${f(r.bare_cores, 2)} = ${f(r.bare_ffmpeg_cores, 2)} + ${f(r.bare_ort_cores, 2)} cores${r.bare_ort_rate < 0.95 * r.needed_per_s ? ` (ORT ${f(r.bare_ort_rate)}/s of ${f(r.needed_per_s)})` : ''}`,
    `${f(r.gateway_vs_bare, 2)}×`,
    f(r.cameras_per_core),
    f(r.frigate_cameras_per_core, 2),
    `${f(r.vs_frigate)}×`,
  ];
}

/** A Markdown table, so it can be pasted into the README as it is. */
export function table(rows: Row[]): string {
  const all = [[...COLUMNS], ...rows.map(cells)];
  const widths = COLUMNS.map((_, i) => Math.max(...all.map((r) => [...r[i]].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c + ' '.repeat(widths[i] - [...c].length)).join(' | ')} |`;
  return [line(all[0]), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...all.slice(1).map(line)].join('\n');
}
