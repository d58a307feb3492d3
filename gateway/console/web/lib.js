// Shared by every page: rendering (Preact + htm), the API client, words in two languages.
import { h, render } from 'preact';
import { useEffect, useState, useRef, useCallback } from 'preact/hooks';
import htm from 'htm';
import { WORDS } from './words.js';

export const html = htm.bind(h);
export { render, useEffect, useState, useRef, useCallback };

export const session = { user: null, role: null, csrf: null, gateway: null };
export const lang = { current: localStorage.getItem('console.lang') || 'zh' };

/** A word in the chosen language (Chinese by default); unknown keys show as themselves. */
export function t(key, vars = {}) {
  const w = WORDS[lang.current]?.[key] ?? WORDS.zh[key] ?? key;
  return w.replace(/\{(\w+)\}/g, (_m, k) => String(vars[k] ?? ''));
}

export class ApiError extends Error {
  constructor(status, message, issues) {
    super(message);
    this.status = status;
    this.issues = issues;
  }
}

export async function api(path, body) {
  const init =
    body === undefined
      ? {}
      : { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf ?? '' }, body: JSON.stringify(body) };
  const res = await fetch(`/console/api${path}`, { credentials: 'same-origin', ...init });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, data.error ?? res.statusText, data.issues);
  return data;
}

export const can = (role) => ['viewer', 'operator', 'admin'].indexOf(session.role) >= ['viewer', 'operator', 'admin'].indexOf(role);

export function when(ms) {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms).toLocaleString(lang.current === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false });
}

export function ago(ms) {
  if (!ms) return '—';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return t('ago_s', { n: s });
  if (s < 3600) return t('ago_m', { n: Math.round(s / 60) });
  return t('ago_h', { n: Math.round(s / 3600) });
}

/** Data from a GET path, reloaded when `deps` change or `every` ms pass. */
export function useData(path, deps = [], every = 0) {
  const [state, set] = useState({ data: null, error: null });
  const reload = useCallback(() => {
    if (!path) return;
    api(path).then(
      (data) => set({ data, error: null }),
      (error) => set((s) => ({ data: s.data, error })),
    );
  }, [path]);
  useEffect(() => {
    reload();
    if (!every) return undefined;
    const id = setInterval(reload, every);
    return () => clearInterval(id);
  }, [path, every, ...deps]);
  return { ...state, reload };
}

/** The live stream (server-sent events), one per page that listens. */
export function useStream(handlers) {
  const ref = useRef(handlers);
  ref.current = handlers;
  useEffect(() => {
    const es = new EventSource('/console/api/stream');
    for (const name of ['transition', 'warning', 'health']) es.addEventListener(name, (m) => ref.current[name]?.(JSON.parse(m.data)));
    return () => es.close();
  }, []);
}

export const STATE_CLASS = {
  confirmed: 'warn',
  warned: 'warn',
  rechecked: 'warn',
  escalated: 'bad',
  dispatched: 'bad',
  unassigned: 'bad',
  acknowledged: 'info',
  arrived: 'info',
  resolved_by_warning: 'good',
  closed: 'good',
  cancelled: 'muted',
};

export const StateBadge = ({ state }) => html`<span class="badge ${STATE_CLASS[state] ?? ''}">${t(`state.${state}`)}</span>`;

/** Zones (and masks) as SVG polygons in normalised coordinates, over a picture. */
export function ZoneShapes({ zones, selected = -1 }) {
  return zones.map(
    (z, i) => html`<g class="zone ${i === selected ? 'selected' : ''}">
      <polygon points=${z.polygon.map((p) => p.join(',')).join(' ')} />
      ${(z.mask ?? []).map((m) => html`<polygon class="mask" points=${m.map((p) => p.join(',')).join(' ')} />`)}
    </g>`,
  );
}
