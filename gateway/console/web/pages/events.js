// Events: a live list (server-sent events from the gateway's bus, no polling) with filters,
// and one event's page: evidence, timeline, the warning as played, dispatch trail, actions.
import { html, useData, useState, useStream, t, when, api, can, StateBadge } from '../lib.js';

export function EventsPage() {
  const [f, setF] = useState({ type: '', camera: '', state: '', since: '' });
  const q = new URLSearchParams(
    Object.entries(f)
      .filter(([, v]) => v)
      .map(([k, v]) => [k, k === 'since' ? new Date(v).toISOString() : v]),
  );
  const list = useData(`/events?${q}`);
  const cams = useData('/cameras');
  const cat = useData('/catalogue');
  const [live, setLive] = useState({});
  const matches = (e) => (!f.type || e.type === f.type) && (!f.camera || e.camera === f.camera) && (!f.state || e.state === f.state);
  useStream({
    transition: (m) => setLive((l) => ({ ...l, [m.event.id]: { ...m.event, fresh: Date.now() } })),
  });
  const byId = new Map((list.data?.events ?? []).map((e) => [e.id, e]));
  for (const e of Object.values(live)) byId.set(e.id, { ...byId.get(e.id), ...e });
  const rows = [...byId.values()].filter(matches).sort((a, b) => b.seq - a.seq);
  const sel = (k, options) => html`<label>${t(`filter_${k}`)}
    <select value=${f[k]} onChange=${(e) => setF({ ...f, [k]: e.target.value })} data-filter=${k}>
      <option value="">${t('all')}</option>${options}
    </select></label>`;
  return html`<h2>${t('events')} <span class="badge good live">● ${t('live')}</span></h2>
    <div class="filters card">
      ${sel(
        'type',
        (cat.data?.types ?? []).map((c) => html`<option value=${c.type}>${c.zh}</option>`),
      )}
      ${sel(
        'camera',
        (cams.data?.cameras ?? []).map((c) => html`<option value=${c.id}>${c.name}</option>`),
      )}
      ${sel(
        'state',
        (cat.data?.states ?? []).map((s) => html`<option value=${s}>${t(`state.${s}`)}</option>`),
      )}
      <label>${t('filter_since')}<input type="date" value=${f.since} onChange=${(e) => setF({ ...f, since: e.target.value })} /></label>
    </div>
    <table class="list">
      <thead><tr><th>${t('time')}</th><th>${t('type')}</th><th>${t('camera')}</th><th>${t('zone')}</th><th>${t('state')}</th><th>${t('officer')}</th></tr></thead>
      <tbody>
        ${rows.map(
          (
            e,
          ) => html`<tr class=${e.fresh && Date.now() - e.fresh < 5000 ? 'fresh' : ''} data-event=${e.id} onClick=${() => (location.hash = `#/event/${e.id}`)}>
            <td>${when(e.confirmed_at)}</td><td>${e.type_zh}</td><td>${e.camera_name}</td><td>${e.zone_name}</td>
            <td><${StateBadge} state=${e.state} /></td><td>${e.officer_id ?? ''}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${!rows.length && html`<p class="muted">${t('no_events')}</p>`}`;
}

function Actions({ id, onDone }) {
  const [reason, setReason] = useState('');
  const [msg, setMsg] = useState(null);
  const act = async (what) => {
    try {
      const r = await api(`/events/${id}/${what}`, { reason });
      setMsg({ ok: true, text: `${t('done')}: ${t(`state.${r.to}`)}` });
      onDone();
    } catch (e) {
      setMsg({ ok: false, text: e.message });
    }
  };
  return html`<div class="actions">
    <input placeholder=${t('action_reason')} value=${reason} onInput=${(e) => setReason(e.target.value)} />
    <button class="primary" onClick=${() => act('resolve')} data-action="resolve">${t('resolve')}</button>
    <button class="danger" onClick=${() => act('cancel')} data-action="cancel">${t('cancel')}</button>
    ${msg && html`<span class="status ${msg.ok ? 'good' : 'bad'}">${msg.text}</span>`}
  </div>`;
}

export function EventPage({ id }) {
  const { data, error, reload } = useData(`/events/${id}`);
  // A warning's row and its recording come with its outcome, which may follow the transition.
  useStream({ transition: (m) => m.event.id === id && reload(), warning: (w) => w.eventId === id && reload() });
  if (error && !data) return html`<p class="error">${error.message}</p>`;
  if (!data) return null;
  const { event: e, transitions, warnings, dispatches } = data;
  const open = !['resolved_by_warning', 'closed', 'cancelled'].includes(e.state);
  return html`<h2><a href="#/events">${t('events')}</a> / ${e.type_zh} · ${e.camera_name} <${StateBadge} state=${e.state} /></h2>
    <div class="split">
      <div>
        ${e.picture ? html`<img class="evidence" src="/console/api/events/${id}/evidence.jpg" alt=${t('evidence')} />` : html`<p class="muted">—</p>`}
        <h3>${t('warning_audio')}</h3>
        ${warnings
          .filter((w) => w.outcome === 'played')
          .map(
            (w) => html`<div class="audio"><div>${when(w.at)} · ${w.speaker_id}: “${w.text}”</div>
            <audio
              controls
              preload="none"
              src=${w.recording ? `/console/api/events/${id}/audio/${w.recording}` : `/console/api/events/${id}/audio.wav?warning=${w.id}`}
              data-warning=${w.id}
              data-source=${w.recording ? 'evidence' : 'synthesised'}
            ></audio>
            <small class="muted">${w.recording ? t('audio_evidence') : t('audio_note')}</small></div>`,
          )}
        ${warnings.filter((w) => w.outcome !== 'played').map((w) => html`<div class="muted">${when(w.at)} · ${w.speaker_id}: ${w.outcome} (${w.reason ?? w.code})</div>`)}
      </div>
      <div class="card">
        <p>${t('zone')}: ${e.zone_name} · ${e.classes.join(', ')}</p>
        <h3>${t('timeline')}</h3>
        <ol class="timeline">
          ${transitions.map((x) => html`<li><span>${when(x.at)}</span> <${StateBadge} state=${x.to} /> ${x.data?.reason ?? ''}</li>`)}
        </ol>
        <h3>${t('dispatch_trail')}</h3>
        <table class="list small">
          ${dispatches.map(
            (d) =>
              html`<tr><td>${d.officerId}</td><td>${t(d.state)}</td><td>${Math.round(d.distanceM)} m</td><td>${when(d.createdAt)}</td><td>${d.reason ?? ''}</td></tr>`,
          )}
        </table>
        ${!dispatches.length && html`<p class="muted">—</p>`}
        ${open && can('operator') && html`<h3>${t('actions')}</h3><${Actions} id=${id} onDone=${reload} />`}
      </div>
    </div>`;
}
