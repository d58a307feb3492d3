// The camera grid and one camera's page: latest analysed picture, health, zones, detections, tracks.
import { html, useData, useEffect, useState, t, ago, ZoneShapes, can } from '../lib.js';

const healthClass = (h) => ({ online: 'good', degraded: 'warn', offline: 'bad' })[h?.state] ?? 'muted';

/** The newest analysed picture, reloaded every `every` ms (a new URL each time, so no cache). */
export function LivePicture({ id, every = 2000, children, onSize, over = null }) {
  const [n, setN] = useState(0);
  const [ok, setOk] = useState(true);
  const [ratio, setRatio] = useState(null);
  useEffect(() => {
    const timer = setInterval(() => setN((x) => x + 1), every);
    return () => clearInterval(timer);
  }, [id, every]);
  const loaded = (e) => {
    setOk(true);
    setRatio(`${e.target.naturalWidth} / ${e.target.naturalHeight}`);
    onSize?.(e.target.naturalWidth, e.target.naturalHeight);
  };
  // The picture keeps the camera's own shape, so zones in 0..1 sit where they belong.
  return html`<div class="picture" style=${ratio ? `aspect-ratio: ${ratio}` : ''}>
    <img src=${`/console/api/cameras/${id}/frame.jpg?n=${n}`} onLoad=${loaded} onError=${() => setOk(false)} alt="" />
    ${!ok && html`<div class="nopic">${t('no_picture')}</div>`}
    <svg viewBox="0 0 1 1" preserveAspectRatio="none">${children}</svg>
    ${over}
  </div>`;
}

function HealthLine({ h, c }) {
  return html`<div class="health">
    <span class="badge ${healthClass(h)}">${t(h?.state ?? 'unknown')}</span>
    <span class="achieved ${c.behind ? 'behind' : ''}" data-achieved=${c.analysis_interval_s ?? ''} title=${c.behind ? t('behind_hint') : ''}>
      ${t('achieved')} ${c.analysis_interval_s === null ? '—' : `${c.analysis_interval_s}s`} / ${t('wanted', { s: c.interval_s })}
    </span>
    <span>${t('frames_min')} ${h?.framesPerMinute ?? 0}</span>
    <span>${t('restarts')} ${h?.restarts ?? 0}</span>
    ${h?.reason && html`<div class="reason">${h.reason}</div>`}
  </div>`;
}

export function CamerasPage() {
  const { data, error } = useData('/cameras', [], 5000);
  if (error && !data) return html`<p class="error">${error.message}</p>`;
  if (!data) return null;
  return html`<h2>${t('nav_cameras')}</h2>
    <div class="grid">
      ${data.cameras.map(
        (c) => html`<div class="card camera" data-camera=${c.id}>
          <a href="#/camera/${c.id}"><${LivePicture} id=${c.id} every=${5000}><${ZoneShapes} zones=${c.zones} /></${LivePicture}></a>
          <div class="row"><b>${c.name}</b><small>${c.id}</small></div>
          <${HealthLine} h=${c.health} c=${c} />
          <div class="row">
            <a class="button" href="#/camera/${c.id}">${t('open_camera')}</a>
            ${can('viewer') && html`<a class="button" href="#/zones/${c.id}">${t('edit_zones')}</a>`}
          </div>
        </div>`,
      )}
    </div>`;
}

export function CameraPage({ id }) {
  const cams = useData('/cameras', [], 5000);
  const det = useData(`/cameras/${id}/analysis`, [], 1000);
  const c = cams.data?.cameras.find((x) => x.id === id);
  if (!c) return null;
  const dets = det.data?.detections ?? [];
  const tracks = det.data?.tracks ?? [];
  // Text in the stretched SVG would be distorted: the tags are HTML placed in percent.
  // Short (id, seconds still) so a busy street stays readable; the list says the rest.
  const tags = tracks.map(
    (k) => html`<div
      class="tag ${k.visible ? '' : 'coasting'}"
      data-track=${k.id}
      data-label=${k.label}
      title=${`${k.label} · ${t('still_for', { s: Math.round(k.still_s) })}`}
      style=${`left: ${k.box[0] * 100}%; top: ${k.box[1] * 100}%`}
    >#${k.id} ${Math.round(k.still_s)}s</div>`,
  );

  return html`<h2><a href="#/cameras">${t('nav_cameras')}</a> / ${c.name}</h2>
    <div class="split">
      <div>
        <${LivePicture} id=${id} every=${1000} over=${tags}>
          <${ZoneShapes} zones=${c.zones} />
          ${dets.map((d) => html`<rect class="det" x=${d.box[0]} y=${d.box[1]} width=${d.box[2] - d.box[0]} height=${d.box[3] - d.box[1]} />`)}
          ${tracks.map(
            (k) =>
              html`<rect class="track ${k.visible ? '' : 'coasting'}" data-track=${k.id} x=${k.box[0]} y=${k.box[1]} width=${k.box[2] - k.box[0]} height=${k.box[3] - k.box[1]} />`,
          )}
        </${LivePicture}>
        <small>${t('picture_refresh')}</small>
      </div>
      <div class="card">
        <${HealthLine} h=${c.health} c=${c} />
        <p>${t('last_frame')}: ${ago(c.health?.lastFrameAt)}</p>
        <h3>${t('detections')} (${dets.length})</h3>
        <ul class="plain">${dets.map((d) => html`<li>${d.label} ${(d.score * 100).toFixed(0)}%</li>`)}</ul>
        <h3>${t('tracks')} (${tracks.length})</h3>
        <ul class="plain">
          ${tracks.map((k) => html`<li data-track=${k.id}>#${k.id} ${k.label} · ${t('age')} ${Math.round(k.age_s)}s · ${t('still_for', { s: Math.round(k.still_s) })}</li>`)}
        </ul>
        <h3>${t('zones')}</h3>
        <ul class="plain">${c.zones.map((z) => html`<li>${z.name ?? z.id}: ${z.rules.map((r) => r.type).join(', ')}</li>`)}</ul>
        <a class="button primary" href="#/zones/${id}">${t('edit_zones')}</a>
      </div>
    </div>`;
}
