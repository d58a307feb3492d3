// Officers: on duty or not, where, busy or free, current jobs; a schematic map of cameras
// and officers from their coordinates (map tiles only when the settings name a tile server).
import { html, useData, t, ago } from '../lib.js';

const W = 800;
const H = 480;

/** Web-Mercator tile numbers, for sites with their own map server. */
const tile = (lat, lon, z) => {
  const n = 2 ** z;
  const r = (lat * Math.PI) / 180;
  return [((lon + 180) / 360) * n, ((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n];
};

function SchematicMap({ cameras, officers, tileUrl }) {
  const pts = [
    ...cameras.map((c) => c.location),
    ...officers.filter((o) => o.state?.lat != null).map((o) => ({ lat: o.state.lat, lon: o.state.lon })),
  ];
  if (!pts.length) return null;
  // Equirectangular around the middle latitude: fine over a township's few kilometres.
  const k = Math.cos((pts.reduce((s, p) => s + p.lat, 0) / pts.length) * (Math.PI / 180));
  const xs = pts.map((p) => p.lon * k);
  const ys = pts.map((p) => -p.lat);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const span = Math.max(x1 - x0, y1 - y0, 0.002) * 1.25;
  const s = Math.min(W, H) / span;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const at = (lat, lon) => [W / 2 + (lon * k - cx) * s, H / 2 + (-lat - cy) * s];
  const tiles = [];
  if (tileUrl) {
    const z = Math.max(1, Math.min(18, Math.floor(Math.log2(360 / (span / k)))));
    const [tx0, ty0] = tile(-(cy - span / 2), (cx - span / 2) / k, z).map(Math.floor);
    const [tx1, ty1] = tile(-(cy + span / 2), (cx + span / 2) / k, z).map(Math.floor);
    const back = (tx, ty) => {
      const n = 2 ** z;
      const lon = (tx / n) * 360 - 180;
      const lat = (Math.atan(Math.sinh(Math.PI * (1 - (2 * ty) / n))) * 180) / Math.PI;
      return at(lat, lon);
    };
    for (let x = tx0; x <= tx1; x++)
      for (let y = ty0; y <= ty1; y++) {
        const [a, b] = back(x, y);
        const [c, d] = back(x + 1, y + 1);
        tiles.push(
          html`<image href=${tileUrl.replace('{z}', z).replace('{x}', x).replace('{y}', y)} x=${a} y=${b} width=${c - a} height=${d - b} />`,
        );
      }
  }
  const grid = [];
  for (let i = 1; i < 8; i++)
    grid.push(html`<line x1=${(W / 8) * i} y1="0" x2=${(W / 8) * i} y2=${H} /><line x1="0" y1=${(H / 6) * i} x2=${W} y2=${(H / 6) * i} />`);
  const metres = (span * 111_320) / k / (W / 160);
  return html`<svg class="map" viewBox="0 0 ${W} ${H}">
    <rect width=${W} height=${H} class="sea" />${tiles}<g class="grid">${grid}</g>
    ${cameras.map((c) => {
      const [x, y] = at(c.location.lat, c.location.lon);
      return html`<g class="cam"><rect x=${x - 10} y=${y - 10} width="20" height="20" rx="4" /><text x=${x + 16} y=${y + 7}>${c.name}</text></g>`;
    })}
    ${officers
      .filter((o) => o.state?.lat != null)
      .map((o) => {
        const [x, y] = at(o.state.lat, o.state.lon);
        const cls = !o.state.onDuty ? 'off' : o.state.busy || o.jobs.length ? 'busy' : 'free';
        return html`<g class="officer ${cls}"><circle cx=${x} cy=${y} r="11" /><text x=${x + 16} y=${y + 7}>${o.name ?? o.id}</text></g>`;
      })}
    <g class="scale"><line x1="20" y1=${H - 20} x2="180" y2=${H - 20} /><text x="20" y=${H - 30}>${Math.round(metres)} m</text></g>
  </svg>`;
}

export function OfficersPage() {
  const { data } = useData('/officers', [], 5000);
  const me = useData('/me');
  if (!data) return null;
  return html`<h2>${t('officers')}</h2>
    <div class="split">
      <table class="list">
        <thead><tr><th>${t('officer')}</th><th>${t('town')}</th><th>${t('state')}</th><th>${t('position')}</th><th>${t('jobs')}</th></tr></thead>
        <tbody>
          ${data.officers.map((o) => {
            const st = o.state;
            const busy = st?.busy || o.jobs.length > 0;
            return html`<tr data-officer=${o.id}>
              <td><b>${o.name ?? o.id}</b><br /><small>${o.id}</small></td><td>${o.town ?? ''}</td>
              <td>${st ? html`<span class="badge ${st.onDuty ? (busy ? 'warn' : 'good') : 'muted'}">${st.onDuty ? (busy ? t('busy') : t('free')) : t('off_duty')}</span>` : '—'}</td>
              <td>${st?.lat != null ? `${st.lat.toFixed(4)}, ${st.lon.toFixed(4)}` : '—'}<br /><small>${ago(st?.reportedAt)}</small></td>
              <td>${o.jobs.map((j) => html`<a href="#/event/${j.event_id}">${j.type} @ ${j.camera_id} (${t(j.state)})</a><br />`)}</td>
            </tr>`;
          })}
        </tbody>
      </table>
      <div class="card"><h3>${t('map')}</h3><${SchematicMap} cameras=${data.cameras} officers=${data.officers} tileUrl=${me.data?.gateway?.tile_url} /></div>
    </div>`;
}
