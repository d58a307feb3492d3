// The shell: login, navigation (#/page/arg), language switch; each page is its own module.
import { html, render, useEffect, useState, api, session, lang, t, ApiError } from './lib.js';
import { CamerasPage, CameraPage } from './pages/cameras.js';
import { ZoneEditor } from './pages/zones.js';
import { EventsPage, EventPage } from './pages/events.js';
import { SpeakersPage } from './pages/speakers.js';
import { OfficersPage } from './pages/officers.js';
import { StatsPage, AuditPage } from './pages/stats.js';

const PAGES = [
  ['cameras', 'nav_cameras', 'viewer'],
  ['events', 'nav_events', 'viewer'],
  ['speakers', 'nav_speakers', 'viewer'],
  ['officers', 'nav_officers', 'viewer'],
  ['stats', 'nav_stats', 'viewer'],
  ['audit', 'nav_audit', 'admin'],
];

function Login({ onIn }) {
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      onIn(await api('/login', { user: f.get('user'), password: f.get('password') }));
    } catch (err) {
      setError(err.status === 401 ? t('wrong_login') : err.message);
    }
  };
  return html`<div class="login">
    <form onSubmit=${submit} class="card">
      <h1>${t('title')}</h1>
      <label>${t('user')}<input name="user" autocomplete="username" required /></label>
      <label>${t('password')}<input name="password" type="password" autocomplete="current-password" required /></label>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button class="primary" type="submit">${t('login')}</button>
      <button type="button" class="link" onClick=${() => switchLang()}>${t('language')}</button>
    </form>
  </div>`;
}

function switchLang() {
  lang.current = lang.current === 'zh' ? 'en' : 'zh';
  localStorage.setItem('console.lang', lang.current);
  document.documentElement.lang = lang.current === 'zh' ? 'zh-CN' : 'en';
  start();
}

const route = () => (location.hash.replace(/^#\/?/, '') || 'cameras').split('/');

function Shell() {
  const [r, setR] = useState(route());
  useEffect(() => {
    const on = () => setR(route());
    addEventListener('hashchange', on);
    // Effects run after the first paint: a hash changed before now sent no event we heard.
    on();
    return () => removeEventListener('hashchange', on);
  }, []);
  const [page, arg] = r;
  const logout = async () => {
    await api('/logout', {}).catch(() => undefined);
    session.user = null;
    start();
  };
  const body =
    page === 'camera'
      ? html`<${CameraPage} id=${arg} />`
      : page === 'zones'
        ? html`<${ZoneEditor} id=${arg} />`
        : page === 'event'
          ? html`<${EventPage} id=${arg} />`
          : page === 'events'
            ? html`<${EventsPage} />`
            : page === 'speakers'
              ? html`<${SpeakersPage} />`
              : page === 'officers'
                ? html`<${OfficersPage} />`
                : page === 'stats'
                  ? html`<${StatsPage} />`
                  : page === 'audit'
                    ? html`<${AuditPage} />`
                    : html`<${CamerasPage} />`;
  const active = { camera: 'cameras', zones: 'cameras', event: 'events' }[page] ?? page;
  return html`<div class="shell">
    <nav class="side">
      <div class="brand">${t('title')}<small>${session.gateway?.name ?? ''}</small></div>
      ${PAGES.filter(([, , role]) => role !== 'admin' || session.role === 'admin').map(
        ([p, key]) => html`<a href="#/${p}" class=${active === p ? 'on' : ''} data-nav=${p}>${t(key)}</a>`,
      )}
      <div class="who">
        <span>${session.user} · ${t(`role_${session.role}`)}</span>
        <button class="link" onClick=${switchLang}>${t('language')}</button>
        <button class="link" onClick=${logout}>${t('logout')}</button>
      </div>
    </nav>
    <main>${body}</main>
  </div>`;
}

function App({ me }) {
  const [who, setWho] = useState(me);
  if (!who) return html`<${Login} onIn=${(m) => (Object.assign(session, m), setWho(m))} />`;
  return html`<${Shell} />`;
}

async function start() {
  const root = document.getElementById('app');
  let me = null;
  if (!session.user) {
    try {
      me = await api('/me');
      Object.assign(session, me);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
  } else me = session;
  document.title = t('title');
  render(null, root);
  render(html`<${App} me=${me} />`, root);
}

document.documentElement.lang = lang.current === 'zh' ? 'zh-CN' : 'en';
start();
