// Speakers: health as the gateway sees it (probes and real plays) and a test button that
// runs the same speaker test as the MQTT test_speaker command.
import { html, useData, useState, t, ago, api, can } from '../lib.js';

function TestButton({ id, onDone }) {
  const [st, setSt] = useState(null);
  const test = async () => {
    setSt({ kind: 'busy', text: t('testing') });
    try {
      const r = await api(`/speakers/${id}/test`, {});
      setSt({ kind: 'good', text: `${t('played')} ${r.duration_s} s` });
    } catch (e) {
      setSt({ kind: 'bad', text: `${t('failed')}: ${e.message}` });
    }
    onDone();
  };
  return html`<button onClick=${test} disabled=${st?.kind === 'busy' || !can('operator')} data-test=${id}>${t('test')}</button>
    ${st && html`<span class="status ${st.kind}" data-status=${st.kind}>${st.text}</span>`}`;
}

export function SpeakersPage() {
  const { data, reload } = useData('/speakers', [], 10000);
  if (!data) return null;
  const cls = { online: 'good', failed: 'bad' };
  return html`<h2>${t('speakers')}</h2>
    <table class="list">
      <thead><tr><th>${t('speakers')}</th><th>URL</th><th>${t('codec')}</th><th>${t('health')}</th><th>${t('last_played')}</th><th></th></tr></thead>
      <tbody>
        ${data.speakers.map(
          (s) => html`<tr data-speaker=${s.id}>
            <td><b>${s.name}</b><br /><small>${s.id} · ${s.cameras.join(', ')}</small></td>
            <td><code>${s.url}</code></td><td>${s.codec}</td>
            <td><span class="badge ${cls[s.health?.state] ?? 'muted'}">${t(s.health?.state ?? 'unknown')}</span>
              ${s.health?.reason && html`<br /><small>${s.health.reason}</small>`}</td>
            <td>${ago(s.health?.lastPlayedAt)}</td>
            <td><${TestButton} id=${s.id} onDone=${reload} /></td>
          </tr>`,
        )}
      </tbody>
    </table>`;
}
