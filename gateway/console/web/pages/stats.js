// Statistics as charts: the same figures as `gateway stats`, broken down per day, type and
// zone; redrawn when an event changes (from the live stream). And the audit log (admins).
import uPlot from 'uplot';
import { html, useData, useEffect, useRef, useStream, t, when } from '../lib.js';

const COLOURS = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#d97706',
  '#7c3aed',
  '#0891b2',
  '#db2777',
  '#65a30d',
  '#ea580c',
  '#4f46e5',
  '#0d9488',
  '#a16207',
];

function DayChart({ byDayType, names }) {
  const el = useRef(null);
  useEffect(() => {
    const days = Object.keys(byDayType).sort();
    const types = [...new Set(days.flatMap((d) => Object.keys(byDayType[d])))];
    const xs = days.map((d) => Date.parse(`${d}T12:00:00`) / 1000);
    if (!xs.length) return undefined;
    const bars = uPlot.paths.bars({ size: [0.6, 40] });
    const plot = new uPlot(
      {
        width: el.current.clientWidth || 600,
        height: 260,
        // A day either side, whatever uPlot would pick for one or two days of data.
        scales: {
          x: { time: true, range: () => [xs[0] - 86400, xs.at(-1) + 86400] },
          y: { range: (_u, _a, b) => [0, Math.max(1, b + 1)] },
        },
        series: [
          {},
          ...types.map((ty, i) => ({
            label: names[ty] ?? ty,
            stroke: COLOURS[i % 12],
            fill: `${COLOURS[i % 12]}99`,
            paths: bars,
            points: { show: false },
          })),
        ],
        // One tick per day with data, labelled by its date (the gateway's day, as counted).
        axes: [
          { splits: () => xs, values: (_u, v) => v.map((x) => days[xs.indexOf(x)]?.slice(5) ?? '') },
          { values: (_u, v) => v.map((x) => (Number.isInteger(x) ? x : '')) },
        ],
      },
      [xs, ...types.map((ty) => days.map((d) => byDayType[d][ty] ?? 0))],
      el.current,
    );
    return () => plot.destroy();
  }, [JSON.stringify(byDayType)]);
  return html`<div ref=${el} class="chart" data-chart="by-day"></div>`;
}

/** Horizontal bars: a share (0..1) or seconds, with the count behind each. */
function Bars({ rows, max, fmt, chart }) {
  return html`<div class="bars" data-chart=${chart}>
    ${rows.map(
      ([label, v, note, key]) => html`<div class="bar" data-row=${key}><span class="label">${label}</span>
        <span class="track"><span class="fill" style=${`width:${max && v !== null ? Math.max(1, (v / max) * 100) : 0}%`}></span></span>
        <span class="value">${v === null ? '—' : fmt(v)} <small>${note}</small></span></div>`,
    )}
  </div>`;
}

export function StatsPage() {
  const { data, reload } = useData('/stats');
  const cat = useData('/catalogue');
  const timer = useRef(null);
  useStream({
    transition: () => {
      clearTimeout(timer.current);
      timer.current = setTimeout(reload, 500);
    },
  });
  if (!data) return null;
  const { stats: s, breakdown: b } = data;
  const names = Object.fromEntries((cat.data?.types ?? []).map((c) => [c.type, c.zh]));
  const pct = (x) => `${Math.round(x * 100)}%`;
  const share = (m, label) => Object.entries(m).map(([k, v]) => [label(k), v.share, `${v.resolved}/${v.decided}`]);
  const d = s.durations;
  const stages = [
    ['confirm_to_warn', d.confirm_to_warn],
    ['warn_to_resolved', d.warn_to_resolved],
    ['dispatch_to_accept', d.dispatch_to_accept],
    ['accept_to_closed', d.accept_to_closed],
    ['confirm_to_close', b.confirm_to_close],
  ];
  const byType = Object.entries(s.by_type).sort((x, y) => y[1] - x[1]);
  const longest = Math.max(1, ...stages.map(([, x]) => x.p90_s ?? 0));
  return html`<h2>${t('stats')}</h2>
    <div class="kpis">
      <div class="card kpi"><b data-kpi="total">${s.events.total}</b><span>${t('total')}</span></div>
      <div class="card kpi"><b data-kpi="open">${s.events.open}</b><span>${t('open_events')}</span></div>
      <div class="card kpi"><b data-kpi="settled">${s.settled_by_warning.share === null ? '—' : pct(s.settled_by_warning.share)}</b>
        <span>${t('settled')} (${s.settled_by_warning.resolved}/${s.settled_by_warning.decided})</span></div>
      <div class="card kpi"><b data-kpi="dispatch">${s.dispatches.accepted}/${s.dispatches.offers}</b><span>${t('dispatch_response')}</span></div>
    </div>
    <div class="card"><h3>${t('by_day')}</h3><${DayChart} byDayType=${b.by_day_type} names=${names} /></div>
    <div class="card"><h3>${t('events')} · ${t('by_type')}</h3>
      <${Bars} chart="by-type" rows=${byType.map(([k, n]) => [names[k] ?? k, n, '', k])} max=${byType[0]?.[1] ?? 1} fmt=${(v) => v} />
    </div>
    <div class="split">
      <div class="card"><h3>${t('settled_share')} · ${t('by_type')}</h3>
        <${Bars} chart="settled-type" rows=${share(b.settled_by_type, (k) => names[k] ?? k)} max=${1} fmt=${pct} /></div>
      <div class="card"><h3>${t('settled_share')} · ${t('by_zone')}</h3>
        <${Bars} chart="settled-zone" rows=${share(b.settled_by_zone, (k) => k)} max=${1} fmt=${pct} /></div>
    </div>
    <div class="card"><h3>${t('durations')} (${t('median')} / ${t('p90')})</h3>
      <${Bars} chart="durations" rows=${stages.map(([k, x]) => [t(k), x.median_s, `p90 ${x.p90_s ?? '—'} s · ${t('n')} ${x.n}`, k])} max=${longest} fmt=${(v) => `${v} s`} />
    </div>
    <small class="muted">${when(Date.parse(s.at))} · ${s.gateway}</small>`;
}

export function AuditPage() {
  const { data } = useData('/audit', [], 10000);
  if (!data) return null;
  return html`<h2>${t('audit')}</h2>
    <table class="list">
      <thead><tr><th>${t('time')}</th><th>${t('who')}</th><th>${t('what')}</th><th>${t('target')}</th><th>${t('outcome')}</th><th>${t('details')}</th></tr></thead>
      <tbody>
        ${data.entries.map(
          (
            e,
          ) => html`<tr data-audit=${e.action}><td>${when(e.at)}</td><td>${e.user} <small>${e.role ?? ''}</small></td><td>${e.action}</td><td>${e.target ?? ''}</td>
            <td><span class="badge ${e.outcome === 'ok' ? 'good' : e.outcome === 'refused' ? 'warn' : 'bad'}">${e.outcome}</span></td>
            <td><small>${JSON.stringify(e.detail).slice(0, 160)}</small></td></tr>`,
        )}
      </tbody>
    </table>`;
}
