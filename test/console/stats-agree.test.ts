/// <reference lib="dom" />
/**
 * The statistics page in a real browser (Debian's chromium, driven by playwright-core)
 * shows the same numbers as `gateway stats --json` run on the same database: a gateway
 * is started on a data folder holding a known history (warned and settled, escalated and
 * dispatched, cancelled, on several days), and the page's figures are read off the page.
 * The same page in English: the texts change, the numbers do not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { openDb } from '../../gateway/store/db.ts';
import { hashPassword } from '../../gateway/console/passwords.ts';
import type { Gateway } from '../../gateway/controller.ts';
import type { StatsMessage } from '../../gateway/api/schema/stats.ts';
import { ROOT } from '../../gateway/paths.ts';
import { CHROMIUM, launchChromium } from './browser.ts';

const ok = havePeers('mosquitto', CHROMIUM);
const s = (n: number) => n * 1000;

/** Finished events only: a gateway resuming open ones would change the history under the test. */
function seed(file: string, t0: number): void {
  const db = openDb(file);
  const ev =
    db.prepare(`INSERT INTO events (id, type, camera_id, zone_id, state, track_ids, classes, box, first_seen_at, confirmed_at, data, updated_at, closed_at)
    VALUES (?, ?, ?, ?, ?, '[]', '[]', '[0,0,1,1]', ?, ?, '{}', ?, ?)`);
  const tr = db.prepare('INSERT INTO event_transitions (event_id, from_state, to_state, at) VALUES (?, ?, ?, ?)');
  const dsp = db.prepare(
    `INSERT INTO dispatches (id, event_id, officer_id, state, distance_m, created_at, updated_at, tier, accepted_at) VALUES (?, ?, ?, ?, 100, ?, ?, ?, ?)`,
  );
  let n = 0;
  const add = (type: string, cam: string, zone: string, at: number, path: [string, number][]) => {
    const id = `01JZ${String(++n).padStart(22, '0')}`;
    let t = at;
    const steps: [string | null, string, number][] = [[null, 'confirmed', at]];
    for (const [to, dt] of path) steps.push([steps.at(-1)![1], to, (t += s(dt))]);
    ev.run(id, type, cam, zone, steps.at(-1)![1], at - s(60), at, t, t);
    for (const [from, to, when] of steps) tr.run(id, from, to, when);
    return id;
  };
  const settled = (type: string, cam: string, zone: string, at: number, warnS: number, goneS: number) =>
    add(type, cam, zone, at, [
      ['warned', warnS],
      ['rechecked', goneS],
      ['resolved_by_warning', 0],
    ]);
  settled('illegal_parking', 'cam-a', 'gate', t0, 2, 110);
  settled('illegal_parking', 'cam-a', 'gate', t0 + s(3600), 4, 130);
  settled('street_vending', 'cam-b', 'square', t0 + s(86_400), 3, 95);
  settled('illegal_parking', 'cam-b', 'square', t0 + s(2 * 86_400), 7, 150);
  const escalated = (at: number, acceptS: number, closeS: number, declined: boolean) => {
    const id = add('street_vending', 'cam-a', 'gate', at, [
      ['warned', 5],
      ['rechecked', 120],
      ['escalated', 0],
      ['dispatched', 1],
      ['acknowledged', acceptS],
      ['arrived', 200],
      ['closed', closeS],
    ]);
    if (declined) dsp.run(`D${id}x`, id, 'off-a', 'declined', at, at, 'local', null);
    dsp.run(`D${id}`, id, 'off-b', 'closed', at, at, 'local', at + s(acceptS));
  };
  escalated(t0 + s(600), 45, 300, true);
  escalated(t0 + s(86_400 + 600), 80, 500, false);
  add('open_burning', 'cam-b', 'square', t0 + s(900), [['cancelled', 30]]);
  db.close();
}

describe.runIf(ok)('statistics page against gateway stats', () => {
  let broker: Mosquitto;
  let gw: Gateway;
  let browser: BrowserContext;
  let page: Page;
  let file = '';
  const dir = tempDir('gw-console-stats-');

  beforeAll(async () => {
    broker = await startMosquitto();
    mkdirSync(join(dir, 'data'), { recursive: true });
    seed(join(dir, 'data', 'gateway.db'), Date.now() - s(3 * 86_400));
    writeFileSync(join(dir, 'users.json'), JSON.stringify([{ name: 'admin', role: 'admin', password: hashPassword('admin-pass-1') }]));
    const config = settingsAt(
      dir,
      `gateway: { id: gw-stats, data_dir: ./data, timezone: Asia/Shanghai }
mqtt: { url: '${broker.url}', prefix: s }
http: { host: 127.0.0.1, port: 0 }
console: { users_file: users.json }
stats: { interval_s: 0 }
cameras: []
`,
    );
    file = config.file;
    gw = await startGateway(config);
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(`${gw.http!.base}/console/`);
    await page.fill('input[name=user]', 'admin');
    await page.fill('input[name=password]', 'admin-pass-1');
    await page.click('button[type=submit]');
    await page.waitForSelector('nav');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await broker?.stop();
  });

  const cli = (): StatsMessage =>
    JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'gateway', 'cli.ts'), 'stats', '--json', '--config', file], {
        encoding: 'utf8',
      }),
    );

  /** What the statistics page shows, read off the page. */
  const shown = () =>
    page.evaluate(() => {
      const text = (sel: string) => document.querySelector(sel)?.textContent?.trim() ?? null;
      const rows = (chart: string) =>
        Object.fromEntries(
          Array.from(document.querySelectorAll(`[data-chart=${chart}] [data-row]`)).map((r) => [
            r.getAttribute('data-row'),
            r.querySelector('.value')?.textContent?.trim(),
          ]),
        );
      return {
        total: text('[data-kpi=total]'),
        open: text('[data-kpi=open]'),
        settled: text('[data-kpi=settled]'),
        settledOf: text('[data-kpi=settled] + span'),
        dispatch: text('[data-kpi=dispatch]'),
        durations: rows('durations'),
        byType: rows('by-type'),
        nav: text('nav'),
        title: text('main h2'),
      };
    });

  const agree = (page: Awaited<ReturnType<typeof shown>>, r: StatsMessage) => {
    expect(page.total).toBe(String(r.events.total));
    expect(page.open).toBe(String(r.events.open));
    expect(page.settled).toBe(`${Math.round(r.settled_by_warning.share! * 100)}%`);
    expect(page.settledOf).toContain(`(${r.settled_by_warning.resolved}/${r.settled_by_warning.decided})`);
    expect(page.dispatch).toBe(`${r.dispatches.accepted}/${r.dispatches.offers}`);
    for (const [k, d] of Object.entries(r.durations)) {
      expect(page.durations[k], k).toMatch(new RegExp(`^${d.median_s} s\\s+p90 ${d.p90_s} s · \\S+ ${d.n}$`));
    }
    expect(Object.fromEntries(Object.entries(page.byType).map(([k, v]) => [k, Number(v)]))).toEqual(r.by_type);
  };

  it('shows the numbers gateway stats --json gives for the same database', async () => {
    await page.goto(`${gw.http!.base}/console/#/stats`);
    await page.waitForSelector('[data-chart=by-day] canvas');
    const r = cli();
    // The history is what was seeded: the comparison is not of two empty pages.
    expect(r.events.total).toBe(7);
    expect(r.settled_by_warning).toMatchObject({ resolved: 4, decided: 6 });
    expect(r.dispatches).toMatchObject({ offers: 3, accepted: 2, declined: 1 });
    const zh = await shown();
    agree(zh, r);
    expect(zh.nav).toContain('统计');
  });

  it('in English, the page texts change and the numbers stay', async () => {
    const before = await shown();
    await page.click('nav .who button:has-text("English")');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    await page.waitForSelector('[data-kpi=total]');
    const en = await shown();
    expect(en.nav).toContain('Cameras');
    expect(en.nav).toContain('Statistics');
    expect(en.nav).not.toContain('摄像头');
    expect(en.title).not.toBe(before.title);
    expect(en.title).toMatch(/^[\x20-\x7e]+$/); // nothing left in Chinese
    agree(en, cli());
    await page.goto(`${gw.http!.base}/console/#/cameras`);
    await page.waitForSelector('main h2');
    expect(await page.locator('main h2').textContent()).toBe('Cameras');
    // Back to Chinese, as the other tests expect of this browser's profile (each has its own).
    await page.click('nav .who button:has-text("中文")');
    await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
    expect(await page.locator('main h2').textContent()).toBe('摄像头');
  });
});
