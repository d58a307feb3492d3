// The zone editor: draw and move zones and masks on the camera's picture; rules with the
// catalogue's defaults shown; schedules. Saving is checked by the gateway exactly as
// `gateway check` checks, and the errors come back to the field they are about.
import { html, useData, useEffect, useRef, useState, t, api, can } from '../lib.js';
import { LivePicture } from './cameras.js';

const PARAMS = [
  ['dwell_s', 'number', 'dwellS'],
  ['grace_s', 'number', 'graceS'],
  ['cooldown_s', 'number', 'cooldownS'],
  ['min_count', 'number', 'minCount'],
  ['min_area', 'number', 'minArea'],
  ['stationary', 'bool', 'stationary'],
  ['anchor', 'anchor', 'anchor'],
  ['classes', 'list', 'classes'],
];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const clamp = (v) => Math.min(1, Math.max(0, Math.round(v * 1000) / 1000));
const copy = (x) => JSON.parse(JSON.stringify(x));

/** Issues from the server, keyed by the path inside this camera: zones[0].rules[1].dwell_s. */
function issuesByField(issues, index) {
  const out = {};
  for (const i of issues ?? []) {
    const prefix = `cameras[${index}].`;
    const key = i.path.startsWith(prefix) ? i.path.slice(prefix.length) : '';
    (out[key] ??= []).push(i.message.replace(/^[^:]+: /, ''));
  }
  return out;
}

const Err = ({ at, issues }) => (issues[at] ? html`<div class="field-error" data-error=${at}>${issues[at].join('; ')}</div>` : null);

function RuleEditor({ rule, path, catalogue, issues, onChange, onRemove }) {
  const d = catalogue.find((c) => c.type === rule.type) ?? catalogue[0];
  const set = (k, v) => {
    const next = { ...rule };
    if (v === '' || v === undefined || (Array.isArray(v) && !v.length)) delete next[k];
    else next[k] = v;
    onChange(next);
  };
  return html`<fieldset class="rule">
    <legend>
      <select value=${rule.type} onChange=${(e) => onChange({ ...rule, type: e.target.value })} data-field="${path}.type">
        ${catalogue.map((c) => html`<option value=${c.type}>${c.zh} (${c.type})</option>`)}
      </select>
      <button class="link" onClick=${onRemove}>${t('remove')}</button>
    </legend>
    <small class="what">${d.what}</small>
    <${Err} at=${path} issues=${issues} />
    <div class="params">
      ${PARAMS.map(([k, kind, dk]) => {
        const def = d[dk];
        const shown = Array.isArray(def) ? def.join(', ') : String(def);
        const input =
          kind === 'bool'
            ? html`<select value=${rule[k] === undefined ? '' : String(rule[k])} onChange=${(e) => set(k, e.target.value === '' ? '' : e.target.value === 'true')}>
                <option value="">${t('default')}: ${shown}</option><option value="true">true</option><option value="false">false</option>
              </select>`
            : kind === 'anchor'
              ? html`<select value=${rule[k] ?? ''} onChange=${(e) => set(k, e.target.value)}>
                  <option value="">${t('default')}: ${shown}</option>${['foot', 'centre', 'box'].map((a) => html`<option>${a}</option>`)}
                </select>`
              : kind === 'list'
                ? html`<input value=${(rule[k] ?? []).join(', ')} placeholder="${t('default')}: ${shown}"
                    onChange=${(e) =>
                      set(
                        k,
                        e.target.value
                          .split(',')
                          .map((s) => s.trim())
                          .filter(Boolean),
                      )} />`
                : html`<input type="number" step="any" value=${rule[k] ?? ''} placeholder="${t('default')}: ${shown}" data-field="${path}.${k}"
                    onChange=${(e) => set(k, e.target.value === '' ? '' : Number(e.target.value))} />`;
        return html`<label>${t(k)}${input}<${Err} at="${path}.${k}" issues=${issues} /></label>`;
      })}
    </div>
  </fieldset>`;
}

function Windows({ list, path, issues, onChange }) {
  const set = (i, w) => onChange(list.map((x, j) => (j === i ? w : x)));
  return html`${list.map(
    (w, i) => html`<div class="window">
        ${DAYS.map(
          (d) => html`<label class="day"><input type="checkbox" checked=${(w.days ?? []).includes(d)}
            onChange=${(e) => {
              const days = e.target.checked ? [...(w.days ?? []), d] : (w.days ?? []).filter((x) => x !== d);
              const next = { ...w, days: DAYS.filter((x) => days.includes(x)) };
              if (!next.days.length) delete next.days;
              set(i, next);
            }} />${d}</label>`,
        )}
        <input class="time" value=${w.from ?? '00:00'} onChange=${(e) => set(i, { ...w, from: e.target.value })} />–
        <input class="time" value=${w.to ?? '24:00'} onChange=${(e) => set(i, { ...w, to: e.target.value })} />
        <button class="link" onClick=${() => onChange(list.filter((_x, j) => j !== i))}>${t('remove')}</button>
        <${Err} at="${path}[${i}]" issues=${issues} /><${Err} at="${path}[${i}].from" issues=${issues} /><${Err} at="${path}[${i}].to" issues=${issues} />
      </div>`,
  )}
    <button class="small" onClick=${() => onChange([...list, { from: '07:00', to: '19:00' }])}>${t('add_window')}</button>`;
}

function ScheduleEditor({ schedule, path, issues, onChange }) {
  const s = schedule ?? {};
  const set = (k, v) => {
    const next = { ...s };
    if (v.length) next[k] = v;
    else delete next[k];
    onChange(Object.keys(next).length ? next : undefined);
  };
  return html`<div class="schedule">
    <div><b>${t('active')}</b><${Windows} list=${s.active ?? []} path="${path}.active" issues=${issues} onChange=${(v) => set('active', v)} /></div>
    <div><b>${t('inactive')}</b><${Windows} list=${s.inactive ?? []} path="${path}.inactive" issues=${issues} onChange=${(v) => set('inactive', v)} /></div>
  </div>`;
}

export function ZoneEditor({ id }) {
  const cams = useData('/cameras');
  const cat = useData('/catalogue');
  const cam = cams.data?.cameras.find((c) => c.id === id);
  const [zones, setZones] = useState(null);
  const [sel, setSel] = useState(0);
  const [drawing, setDrawing] = useState(null); // { kind: 'zone' | 'mask', points }
  const [status, setStatus] = useState(null);
  const [issues, setIssues] = useState({});
  const svg = useRef(null);
  const drag = useRef(null);
  const index = cams.data?.cameras.findIndex((c) => c.id === id) ?? -1;
  useEffect(() => {
    if (cam && zones === null) setZones(copy(cam.zones));
  }, [cam]);
  if (!cam || !zones || !cat.data) return null;
  const catalogue = cat.data.types;

  const at = (e) => {
    const r = svg.current.getBoundingClientRect();
    return [clamp((e.clientX - r.left) / r.width), clamp((e.clientY - r.top) / r.height)];
  };
  const update = (i, z) => setZones(zones.map((x, j) => (j === i ? z : x)));
  const close = (points) => {
    if (points.length < 3) return setDrawing(null);
    if (drawing.kind === 'mask' && zones[sel]) update(sel, { ...zones[sel], mask: [...(zones[sel].mask ?? []), points] });
    else {
      let n = zones.length + 1;
      while (zones.some((z) => z.id === `zone-${n}`)) n++;
      setZones([...zones, { id: `zone-${n}`, name: `区域 ${n}`, polygon: points, rules: [{ type: 'illegal_parking' }] }]);
      setSel(zones.length);
    }
    setDrawing(null);
  };
  const onDown = (e) => {
    if (drawing) {
      const p = at(e);
      const first = drawing.points[0];
      const r = svg.current.getBoundingClientRect();
      if (first && drawing.points.length >= 3 && Math.hypot((p[0] - first[0]) * r.width, (p[1] - first[1]) * r.height) < 10)
        return close(drawing.points);
      return setDrawing({ ...drawing, points: [...drawing.points, p] });
    }
    const target = e.target.dataset;
    if (target.vertex !== undefined)
      drag.current = { kind: 'vertex', zone: sel, mask: Number(target.mask), i: Number(target.vertex), from: at(e) };
    else if (target.zone !== undefined) {
      setSel(Number(target.zone));
      drag.current = { kind: 'move', zone: Number(target.zone), from: at(e), orig: copy(zones[Number(target.zone)]) };
    }
  };
  const onMove = (e) => {
    const d = drag.current;
    if (!d) return;
    const p = at(e);
    const z = copy(zones[d.zone]);
    if (d.kind === 'vertex') {
      if (d.mask >= 0) z.mask[d.mask][d.i] = p;
      else z.polygon[d.i] = p;
    } else {
      const dx = p[0] - d.from[0];
      const dy = p[1] - d.from[1];
      const shift = (poly) => poly.map(([x, y]) => [clamp(x + dx), clamp(y + dy)]);
      z.polygon = shift(d.orig.polygon);
      if (d.orig.mask) z.mask = d.orig.mask.map(shift);
    }
    update(d.zone, z);
  };
  const onUp = () => (drag.current = null);

  const save = async () => {
    setStatus({ kind: 'busy', text: t('saving') });
    setIssues({});
    try {
      const r = await api(`/cameras/${id}/zones`, { zones });
      setStatus({ kind: 'good', text: `${t('saved')} (${r.reload.applied.join(', ') || '—'})` });
      cams.reload();
    } catch (e) {
      setIssues(issuesByField(e.issues, index));
      setStatus({ kind: 'bad', text: t('save_refused') + e.message });
    }
  };

  const z = zones[sel];
  const zp = `zones[${sel}]`;
  return html`<h2><a href="#/cameras">${t('nav_cameras')}</a> / <a href="#/camera/${id}">${cam.name}</a> / ${t('zone_editor')}</h2>
    <div class="split editor">
      <div>
        <div class="toolbar">
          ${!drawing && html`<button onClick=${() => setDrawing({ kind: 'zone', points: [] })} data-action="draw-zone">${t('draw_zone')}</button>`}
          ${!drawing && z && html`<button onClick=${() => setDrawing({ kind: 'mask', points: [] })} data-action="draw-mask">${t('draw_mask')}</button>`}
          ${
            drawing &&
            html`<button class="primary" onClick=${() => close(drawing.points)} data-action="finish">${t('finish')}</button>
            <button onClick=${() => setDrawing(null)}>${t('cancel_draw')}</button>`
          }
          <span class="hint">${t('draw_hint')}</span>
        </div>
        <div class="drawing ${drawing ? 'on' : ''}">
          <${LivePicture} id=${id} every=${10000} />
          <svg ref=${svg} class="overlay" viewBox="0 0 1 1" preserveAspectRatio="none" onPointerDown=${onDown} onPointerMove=${onMove} onPointerUp=${onUp} onPointerLeave=${onUp}>
            ${zones.map(
              (zz, i) => html`<g class="zone ${i === sel ? 'selected' : ''}">
                <polygon data-zone=${i} points=${zz.polygon.map((p) => p.join(',')).join(' ')} />
                ${(zz.mask ?? []).map((m) => html`<polygon class="mask" data-zone=${i} points=${m.map((p) => p.join(',')).join(' ')} />`)}
              </g>`,
            )}
            ${
              z &&
              !drawing && [
                ...z.polygon.map((p, i) => html`<circle class="vertex" data-vertex=${i} data-mask="-1" cx=${p[0]} cy=${p[1]} r="0.012" />`),
                ...(z.mask ?? []).flatMap((m, mi) =>
                  m.map((p, i) => html`<circle class="vertex mask" data-vertex=${i} data-mask=${mi} cx=${p[0]} cy=${p[1]} r="0.01" />`),
                ),
              ]
            }
            ${
              drawing &&
              html`<polyline class="draft" points=${drawing.points.map((p) => p.join(',')).join(' ')} />
              ${drawing.points.map((p) => html`<circle class="vertex" cx=${p[0]} cy=${p[1]} r="0.01" />`)}`
            }
          </svg>
        </div>
        <div class="tabs">
          ${zones.map((zz, i) => html`<button class=${i === sel ? 'on' : ''} onClick=${() => setSel(i)}>${zz.name ?? zz.id}</button>`)}
        </div>
      </div>
      <div class="card form">
        ${issues[''] && html`<div class="field-error">${issues[''].join('; ')}</div>`}
        ${
          z
            ? html`<label>${t('zone_id')}<input value=${z.id} data-field="${zp}.id" onChange=${(e) => update(sel, { ...z, id: e.target.value.trim() })} /></label>
            <${Err} at="${zp}.id" issues=${issues} />
            <label>${t('zone_name')}<input value=${z.name ?? ''} onChange=${(e) => update(sel, { ...z, name: e.target.value || undefined })} /></label>
            <${Err} at="${zp}.polygon" issues=${issues} />
            ${
              (z.mask ?? []).length > 0 &&
              html`<div>${t('masks')}: ${z.mask.length}
              <button class="link" onClick=${() => update(sel, { ...z, mask: z.mask.slice(0, -1).length ? z.mask.slice(0, -1) : undefined })}>${t('delete_mask')}</button></div>`
            }
            <h3>${t('rules')}</h3>
            <${Err} at="${zp}.rules" issues=${issues} />
            ${z.rules.map(
              (r, i) => html`<${RuleEditor} rule=${r} path="${zp}.rules[${i}]" catalogue=${catalogue} issues=${issues}
                onChange=${(nr) => update(sel, { ...z, rules: z.rules.map((x, j) => (j === i ? nr : x)) })}
                onRemove=${() => update(sel, { ...z, rules: z.rules.filter((_x, j) => j !== i) })} />`,
            )}
            <button class="small" onClick=${() => update(sel, { ...z, rules: [...z.rules, { type: 'illegal_parking' }] })}>${t('add_rule')}</button>
            <h3>${t('schedule')}</h3>
            <${ScheduleEditor} schedule=${z.schedule} path="${zp}.schedule" issues=${issues} onChange=${(s) => update(sel, { ...z, schedule: s })} />
            <p><button class="danger small" onClick=${() => (setZones(zones.filter((_x, j) => j !== sel)), setSel(0))}>${t('delete_zone')}</button></p>`
            : html`<p>${t('draw_hint')}</p>`
        }
        <div class="savebar">
          <button class="primary" onClick=${save} disabled=${status?.kind === 'busy'} data-action="save" title=${can('admin') ? '' : t('only_admin')}>${t('save')}</button>
          ${status && html`<span class="status ${status.kind}" data-status=${status.kind}>${status.text}</span>`}
        </div>
      </div>
    </div>`;
}
