/// <reference lib="dom" />
/**
 * The console in a real browser (Debian's chromium, driven by playwright-core) against a
 * real gateway: a scenario camera (ffmpeg plays a video made from real photographs,
 * YOLOX-Nano detects the taxi), a recording RTP speaker, a real mosquitto. The zone that
 * catches the taxi is drawn by mouse in the test, saved, and applied without a restart;
 * its event then appears live, its warning plays from the evidence set's recording, and the
 * camera page draws the taxi's track. Screenshots of the main pages go to docs/console/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { ensureScenario } from '../../scripts/scenario.ts';
import { RtpRecorder } from '../../scripts/sim/rtp-speaker.ts';
import { OfficerSim } from '../../scripts/sim/officers.ts';
import { hashPassword } from '../../gateway/console/passwords.ts';
import type { Gateway } from '../../gateway/controller.ts';
import { ROOT } from '../../gateway/paths.ts';
import { CHROMIUM, launchChromium } from './browser.ts';

const ok = havePeers('ffmpeg', 'espeak-ng', 'mosquitto', CHROMIUM);
const SHOTS = join(ROOT, 'docs', 'console');

describe.runIf(ok)('console in a browser', () => {
  let broker: Mosquitto;
  let gw: Gateway;
  let browser: BrowserContext;
  let page: Page;
  let base = '';
  let file = '';
  let eventId = '';
  let evil: Server;
  let officers: OfficerSim;
  const speaker = new RtpRecorder({ port: 0 });
  const dir = tempDir('gw-console-');
  const shot = (p: Page, name: string) => p.screenshot({ path: join(SHOTS, `${name}.jpg`), type: 'jpeg', quality: 80 });

  beforeAll(async () => {
    broker = await startMosquitto();
    const video = await ensureScenario('spine-stay', { out: join(ROOT, 'data', 'scenarios') });
    await speaker.start();
    writeFileSync(
      join(dir, 'users.json'),
      JSON.stringify([
        { name: 'admin', role: 'admin', password: hashPassword('admin-pass-1') },
        { name: 'viewer', role: 'viewer', password: hashPassword('viewer-pass-1') },
      ]),
    );
    const config = settingsAt(
      dir,
      `# settings for the console test: this comment must survive saving from the zone editor
gateway: { id: gw-console, name: 测试网关, data_dir: ${dir}/data }
mqtt: { url: '${broker.url}', prefix: c }
http: { host: 127.0.0.1, port: 0 }
console: { users_file: users.json, max_failures: 3, lockout_s: 60 }
stats: { interval_s: 0 }
tracking: { max_missed_s: 4 }
cameras:
  - id: stay
    name: 中心街广场
    url: ${video}
    location: { lat: 28.7712, lon: 118.5553 }
    interval_s: 1
    speakers: [spk]
    zones:
      # a corner where nothing parks: the taxi's zone is drawn in the test
      - id: corner
        name: 角落
        polygon: [[0.02, 0.02], [0.2, 0.02], [0.2, 0.2], [0.02, 0.2]]
        rules:
          - { type: illegal_parking, grace_s: 8 }
speakers:
  - { id: spk, name: 广场音柱, url: 'rtp://127.0.0.1:${speaker.port}' }
officers:
  - { id: off-li, name: 李队员 }
`,
    );
    file = config.file;
    // A phone that reports a position near the camera and does not answer offers.
    officers = new OfficerSim({ broker: broker.url, prefix: 'c', walk: false, officers: [{ id: 'off-li', lat: 28.7722, lon: 118.5566 }] });
    await officers.start();
    gw = await startGateway(config);
    base = gw.http!.base;
    browser = await launchChromium();
    page = await browser.newPage();
    mkdirSync(SHOTS, { recursive: true });
    // A page on another site (localhost is not 127.0.0.1 to a browser) that posts to the console.
    evil = createServer((_q, r) => {
      r.writeHead(200, { 'content-type': 'text/html' });
      r.end(`<form id=f method=post enctype=text/plain action="${base}/console/api/cameras/stay/zones">
        <input name='{"zones":[]}' value=''></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((done) => evil.listen(0, '127.0.0.1', done));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    evil?.close();
    await gw?.stop();
    await officers?.stop();
    speaker.stop();
    await broker?.stop();
  });

  const login = async (p: Page, user: string, password: string) => {
    await p.goto(`${base}/console/`);
    await p.fill('input[name=user]', user);
    await p.fill('input[name=password]', password);
    await p.click('button[type=submit]');
  };
  const audit = (action: string) =>
    gw.ctx.db.prepare('SELECT user, outcome, detail FROM audit WHERE action = ? ORDER BY id').all(action) as {
      user: string;
      outcome: string;
      detail: string;
    }[];

  it('refuses a wrong password, saying so, and audits it', async () => {
    await login(page, 'admin', 'not-the-password');
    await expect(page.locator('[role=alert]').textContent()).resolves.toContain('用户名或密码错误');
    expect(audit('login').at(-1)).toMatchObject({ user: 'admin', outcome: 'refused' });
    await shot(page, 'login');
  });

  it('logs in, in Chinese, and shows every camera with its picture, health and zones', async () => {
    await login(page, 'admin', 'admin-pass-1');
    const card = page.locator('[data-camera=stay]');
    await card.waitFor();
    expect(await page.locator('nav').textContent()).toContain('摄像头');
    await page.waitForFunction(() => (document.querySelector('[data-camera=stay] img') as HTMLImageElement)?.naturalWidth > 0, null, {
      timeout: 30_000,
    });
    await page.waitForSelector('[data-camera=stay] .badge.good', { timeout: 30_000 });
    expect(await card.locator('polygon').count()).toBe(1);
    await shot(page, 'cameras');
    const cookie = (await browser.cookies()).find((c) => c.name === 'console_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  });

  let events: Page;
  let stats: Page;

  it('draws a zone by mouse, saves it, and the file still passes gateway check, comments kept', async () => {
    // Opened before the zone exists: what they show later came over the live stream.
    events = await browser.newPage();
    await events.goto(`${base}/console/#/events`);
    await events.waitForSelector('.live');
    stats = await browser.newPage();
    await stats.goto(`${base}/console/#/stats`);
    await stats.waitForSelector('[data-kpi=total]');
    expect(await stats.locator('[data-kpi=total]').textContent()).toBe('0');

    await page.goto(`${base}/console/#/zones/stay`);
    await page.waitForFunction(() => (document.querySelector('.drawing img') as HTMLImageElement)?.naturalWidth > 0, null, {
      timeout: 30_000,
    });
    await page.click('[data-action=draw-zone]');
    const box = (await page.locator('svg.overlay').boundingBox())!;
    const at = (x: number, y: number) => page.mouse.click(box.x + x * box.width, box.y + y * box.height);
    for (const [x, y] of [
      [0.45, 0.78],
      [0.98, 0.78],
      [0.98, 0.99],
      [0.45, 0.99],
    ])
      await at(x, y);
    await at(0.45, 0.78); // back on the first corner closes it
    await page.fill('[data-field="zones[1].rules[0].dwell_s"]', '3');
    await page.press('[data-field="zones[1].rules[0].dwell_s"]', 'Tab');
    await page.fill('[data-field="zones[1].rules[0].grace_s"]', '600'); // the event stays open (warned) until the test resolves it
    await page.press('[data-field="zones[1].rules[0].grace_s"]', 'Tab');
    await shot(page, 'zone-editor');
    await page.click('[data-action=save]');
    await page.waitForSelector('[data-status=good]', { timeout: 20_000 });
    expect(await page.locator('[data-status=good]').textContent()).toContain('cameras');

    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# settings for the console test');
    expect(text).toContain('# a corner where nothing parks');
    expect(text).toMatch(/id: zone-2[\s\S]*polygon: \[ ?\[ ?0\.4\d+, 0\.7\d+ ?\]/);
    expect(existsSync(`${file}.bak`)).toBe(true);
    expect(readFileSync(`${file}.bak`, 'utf8')).not.toContain('zone-2');
    const check = execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'gateway', 'cli.ts'), 'check', '--config', file], {
      encoding: 'utf8',
    });
    expect(check).toContain('OK (1 cameras, 2 zones');
    expect(audit('save_zones').at(-1)).toMatchObject({ user: 'admin', outcome: 'ok' });
  }, 90_000);

  it('refuses what gateway check would refuse, with the error at the field, and saves nothing', async () => {
    const before = readFileSync(file, 'utf8');
    await page.fill('[data-field="zones[1].rules[0].dwell_s"]', '-5');
    await page.press('[data-field="zones[1].rules[0].dwell_s"]', 'Tab');
    await page.click('[data-action=save]');
    await page.waitForSelector('[data-status=bad]');
    expect(await page.locator('[data-error="zones[1].rules[0].dwell_s"]').textContent()).toMatch(/>= 0|minimum|0/);
    expect(readFileSync(file, 'utf8')).toBe(before);
    await page.fill('[data-field="zones[1].rules[0].dwell_s"]', '3');
    await page.press('[data-field="zones[1].rules[0].dwell_s"]', 'Tab');
  });

  it('shows the new zone catching the taxi: the event appears live, and opens', async () => {
    const row = events.locator('tr[data-event]').first();
    await row.waitFor({ timeout: 60_000 });
    eventId = (await row.getAttribute('data-event'))!;
    expect(await row.textContent()).toContain('违章停车');
    await shot(events, 'events');
    // The statistics page was not reloaded: its numbers came with the event.
    await stats.waitForFunction(() => document.querySelector('[data-kpi=total]')?.textContent === '1', null, { timeout: 10_000 });
    await stats.waitForSelector('[data-chart=by-day] canvas');
    await row.click();
    await events.waitForSelector('img.evidence');
    await events.waitForFunction(() => (document.querySelector('img.evidence') as HTMLImageElement)?.naturalWidth > 0);
    expect(await events.locator('ol.timeline li').count()).toBeGreaterThanOrEqual(1);
  }, 90_000);

  it('plays the warning as played', async () => {
    const audio = events.locator('audio[data-warning]').first();
    await audio.waitFor({ timeout: 30_000 });
    // The recording is written to the evidence set in the background: until it is there the
    // page offers the text synthesised again. Look again until the recording is in.
    for (let i = 0; i < 20 && (await audio.getAttribute('data-source')) !== 'evidence'; i++) {
      await new Promise((r) => setTimeout(r, 500));
      await events.reload();
      await audio.waitFor({ timeout: 30_000 });
    }
    const played = await audio.evaluate(
      (a: HTMLAudioElement) =>
        new Promise<{ duration: number; time: number }>((done, fail) => {
          a.addEventListener('error', () => fail(new Error(`audio error ${a.error?.code}`)));
          a.addEventListener('timeupdate', () => a.currentTime > 0.2 && done({ duration: a.duration, time: a.currentTime }));
          a.play().catch(fail);
        }),
    );
    expect(played.duration).toBeGreaterThan(0.5);
    // What plays is the evidence set's recording (the bytes sent to the speaker), not a new synthesis.
    expect(await audio.getAttribute('data-source')).toBe('evidence');
    const src = (await audio.getAttribute('src'))!;
    expect(src).toBe(`/console/api/events/${eventId}/audio/warning-spk-0.wav`);
    const item = gw.evidence.repo.items(eventId).find((i) => i.name === 'warning-spk-0.wav')!;
    expect(item).toMatchObject({ kind: 'audio' });
    const wav = await fetch(`${base}${src}`, { headers: { cookie: await sessionCookie() } });
    expect(wav.headers.get('content-type')).toBe('audio/wav');
    const body = Buffer.from(await wav.arrayBuffer());
    expect(body.equals(readFileSync(item.path))).toBe(true);
    expect(createHash('sha256').update(body).digest('hex')).toBe(item.sha256);
    await shot(events, 'event');
  }, 60_000);

  it("shows on the camera page the achieved analysis interval and the taxi's track, with its id and seconds still", async () => {
    await page.goto(`${base}/console/#/camera/stay`);
    const tag = page.locator('.picture .tag[data-label=car]').first();
    await tag.waitFor({ timeout: 20_000 });
    const id = await tag.getAttribute('data-track');
    expect(await tag.textContent()).toMatch(new RegExp(`^#${id} \\d+s$`));
    expect(await page.locator(`.card li[data-track="${id}"]`).textContent()).toMatch(new RegExp(`^#${id} car · 出现 \\d+s · 静止 \\d+s$`));
    const box = await page.locator(`rect.track[data-track="${id}"]`).boundingBox();
    expect(box!.width).toBeGreaterThan(20);
    // The taxi stands still: its seconds grow from one analysis to the next.
    const still = async () => Number(/(\d+)s$/.exec((await page.locator(`.tag[data-track="${id}"]`).textContent()) ?? '')![1]);
    const first = await still();
    await page.waitForFunction(
      ([sel, n]) => Number(/(\d+)s$/.exec(document.querySelector(sel)?.textContent ?? '')?.[1]) > n,
      [`.tag[data-track="${id}"]`, first] as const,
      { timeout: 10_000 },
    );
    // Analysed about every second, as set: shown, and not flagged.
    const achieved = page.locator('.card .achieved');
    await page.waitForFunction(() => Number(document.querySelector('.card .achieved')?.getAttribute('data-achieved')) > 0);
    const a = Number(await achieved.getAttribute('data-achieved'));
    expect(a).toBeGreaterThan(0.5);
    expect(a).toBeLessThan(2);
    expect(await achieved.textContent()).toMatch(/实际分析间隔 [\d.]+s \/ 设定 1s/);
    expect(await achieved.getAttribute('class')).not.toContain('behind');
    await shot(page, 'camera');
  }, 60_000);

  const sessionCookie = async () => `console_session=${(await browser.cookies()).find((c) => c.name === 'console_session')!.value}`;

  it('tests a speaker from its button; the RTP speaker hears it', async () => {
    await page.goto(`${base}/console/#/speakers`);
    const since = Date.now();
    await page.click('[data-test=spk]');
    await page.waitForSelector('[data-speaker=spk] [data-status=good]', { timeout: 30_000 });
    const spurt = await speaker.next(10_000, since);
    expect(spurt.durationMs).toBeGreaterThan(500);
    expect(spurt.dbfs).toBeGreaterThan(-40);
    expect(audit('test_speaker').at(-1)).toMatchObject({ user: 'admin', outcome: 'ok' });
    await shot(page, 'speakers');
  }, 60_000);

  it('resolves the event from its page (the MQTT command code), audited; statistics follow', async () => {
    const closedRow = '[data-chart=durations] [data-row=confirm_to_close] .value';
    expect(await stats.locator(closedRow).textContent()).toMatch(/样本 0\s*$/);
    await events.click('[data-action=resolve]');
    // A closed event has no actions left: the page shows its new state in the title.
    await events.waitForFunction(() => document.querySelector('h2 .badge')?.textContent === '已办结', null, { timeout: 10_000 });
    expect(gw.ctx.db.prepare('SELECT state FROM events WHERE id = ?').get(eventId)).toMatchObject({ state: 'closed' });
    expect(audit('resolve').at(-1)).toMatchObject({ user: 'admin', outcome: 'ok' });
    await stats.waitForFunction((sel) => /样本 1\s*$/.test(document.querySelector(sel)?.textContent ?? ''), closedRow, { timeout: 10_000 });
    await shot(stats, 'stats');
    await page.goto(`${base}/console/#/officers`);
    await page.waitForSelector('svg.map .officer circle', { timeout: 20_000 });
    await shot(page, 'officers');
  }, 60_000);

  it('refuses a forged cross-site POST', async () => {
    const before = readFileSync(file, 'utf8');
    const forged = page.waitForResponse((r) => r.url().endsWith('/console/api/cameras/stay/zones'));
    await page.goto(`http://localhost:${(evil.address() as { port: number }).port}/`);
    const res = await forged;
    expect(res.status()).toBeGreaterThanOrEqual(400);
    expect(readFileSync(file, 'utf8')).toBe(before);
    // Even with the session and its CSRF token, a foreign Origin is refused.
    const me = (await (await fetch(`${base}/console/api/me`, { headers: { cookie: await sessionCookie() } })).json()) as { csrf: string };
    const r = await fetch(`${base}/console/api/events/${eventId}/cancel`, {
      method: 'POST',
      headers: {
        cookie: await sessionCookie(),
        'x-csrf-token': me.csrf,
        'content-type': 'application/json',
        origin: 'http://evil.example',
      },
      body: '{}',
    });
    expect(r.status).toBe(403);
  });

  it('lets a viewer look but not save', async () => {
    await browser.clearCookies();
    await login(page, 'viewer', 'viewer-pass-1');
    await page.waitForSelector('nav');
    await page.goto(`${base}/console/#/zones/stay`);
    await page.waitForSelector('[data-action=save]');
    const before = readFileSync(file, 'utf8');
    await page.click('[data-action=save]');
    await page.waitForSelector('[data-status=bad]');
    expect(await page.locator('[data-status=bad]').textContent()).toContain('viewer');
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(audit('save_zones').at(-1)).toMatchObject({ user: 'viewer', outcome: 'refused' });
  });

  it('locks a name out after repeated wrong passwords', async () => {
    const post = (password: string) =>
      fetch(`${base}/console/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'viewer', password }),
      });
    for (let i = 0; i < 3; i++) await post('wrong');
    const locked = await post('viewer-pass-1');
    expect(locked.status).toBe(429);
    expect((await locked.json()).error).toContain('locked out');
  });

  it('keeps the API token working for machines', async () => {
    const token = readFileSync(join(dir, 'data', 'http-token'), 'utf8').trim();
    const r = await fetch(`${base}/events/${eventId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
  });
});
