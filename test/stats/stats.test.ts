/**
 * The report's numbers from the event tables: the share settled by warning alone, the
 * median and p90 of each stage, and counts per type, camera, zone and (local) day.
 */
import { describe, expect, it } from 'vitest';
import { openDb } from '../../gateway/store/db.ts';
import { computeStats, quantile } from '../../gateway/stats/stats.ts';
import { statsCommand } from '../../gateway/cli/stats.ts';
import { settingsAt, tempDir } from '../helpers/gateway.ts';

const T0 = Date.parse('2026-11-25T15:30:00Z'); // 23:30 in Jiangshan
const s = (n: number) => n * 1000;

function seed(path = ':memory:') {
  const db = openDb(path);
  const ev =
    db.prepare(`INSERT INTO events (id, type, camera_id, zone_id, state, track_ids, classes, box, first_seen_at, confirmed_at, data, updated_at, closed_at)
    VALUES (?, ?, ?, ?, ?, '[]', '[]', '[0,0,1,1]', ?, ?, '{}', ?, ?)`);
  const tr = db.prepare('INSERT INTO event_transitions (event_id, from_state, to_state, at) VALUES (?, ?, ?, ?)');
  const dsp = db.prepare(
    `INSERT INTO dispatches (id, event_id, officer_id, state, distance_m, created_at, updated_at, tier, accepted_at) VALUES (?, ?, ?, ?, 100, ?, ?, ?, ?)`,
  );
  /** An event through `path` with the given seconds between steps. */
  const add = (id: string, type: string, cam: string, at: number, path: [string, number][]) => {
    const last = path.at(-1)![0];
    const closed = ['resolved_by_warning', 'closed', 'cancelled'].includes(last);
    let t = at;
    ev.run(id, type, cam, 'z', last, at - s(180), at, at, closed ? at + s(1000) : null);
    tr.run(id, null, 'confirmed', at);
    let from = 'confirmed';
    for (const [to, dt] of path) {
      t += s(dt);
      tr.run(id, from, to, t);
      from = to;
    }
  };
  // Three settled by the warning (warn after 2, 4, 6 s; gone 120, 130, 140 s later).
  add('E1', 'illegal_parking', 'cam-a', T0, [
    ['warned', 2],
    ['rechecked', 120],
    ['resolved_by_warning', 0],
  ]);
  add('E2', 'illegal_parking', 'cam-a', T0 + s(3600), [
    ['warned', 4],
    ['rechecked', 130],
    ['resolved_by_warning', 0],
  ]);
  add('E3', 'street_vending', 'cam-b', T0 + s(7200), [
    ['warned', 6],
    ['rechecked', 140],
    ['resolved_by_warning', 0],
  ]);
  // One escalated and handled: declined once, then accepted after 60 s in all, closed 600 s later.
  add('E4', 'illegal_parking', 'cam-b', T0 + s(100), [
    ['warned', 3],
    ['rechecked', 120],
    ['escalated', 0],
    ['dispatched', 1],
    ['escalated', 20],
    ['dispatched', 0],
    ['acknowledged', 40],
    ['arrived', 300],
    ['closed', 300],
  ]);
  dsp.run('D1', 'E4', 'off-a', 'declined', T0, T0, 'local', null);
  dsp.run('D2', 'E4', 'off-n', 'closed', T0, T0, 'neighbour', T0);
  // One cancelled before any decision: not counted in the share.
  add('E5', 'open_burning', 'cam-a', T0 + s(200), [['cancelled', 5]]);
  return db;
}

describe('statistics', () => {
  it('quantiles interpolate between ranks', () => {
    expect(quantile([], 0.5)).toBeNull();
    expect(quantile([7], 0.9)).toBe(7);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9)).toBeCloseTo(91);
  });

  it('computes the settled-by-warning share, stage times and counts', () => {
    const r = computeStats(seed(), { gatewayId: 'gw', timeZone: 'Asia/Shanghai', now: T0 + s(86_400) });
    expect(r.events).toMatchObject({ total: 5, open: 0, by_state: { resolved_by_warning: 3, closed: 1, cancelled: 1 } });
    expect(r.settled_by_warning).toEqual({ resolved: 3, decided: 4, share: 0.75 });
    expect(r.durations.confirm_to_warn).toEqual({ n: 4, median_s: 3.5, p90_s: 5.4 });
    expect(r.durations.warn_to_resolved).toEqual({ n: 3, median_s: 130, p90_s: 138 });
    expect(r.durations.dispatch_to_accept).toEqual({ n: 1, median_s: 60, p90_s: 60 }); // from the first dispatch
    expect(r.durations.accept_to_closed).toEqual({ n: 1, median_s: 600, p90_s: 600 });
    expect(r.dispatches).toEqual({ offers: 2, accepted: 1, declined: 1, timed_out: 0, neighbour: 1 });
    expect(r.by_type).toEqual({ illegal_parking: 3, street_vending: 1, open_burning: 1 });
    expect(r.by_camera).toEqual({ 'cam-a': 3, 'cam-b': 2 });
    expect(r.by_zone).toEqual({ 'cam-a/z': 3, 'cam-b/z': 2 });
    // Days are the site's days: 23:30 on the 25th, then past midnight on the 26th.
    expect(r.by_day).toEqual({ '2026-11-25': 3, '2026-11-26': 2 });
  });

  it('counts only events confirmed in the window', () => {
    const r = computeStats(seed(), {
      gatewayId: 'gw',
      timeZone: 'Asia/Shanghai',
      now: T0 + s(86_400),
      window: { since: T0 + s(3000), until: T0 + s(8000) },
    });
    expect(r.events.total).toBe(2);
    expect(r.window).toEqual({ since: new Date(T0 + s(3000)).toISOString(), until: new Date(T0 + s(8000)).toISOString() });
    const empty = computeStats(openDb(':memory:'), { gatewayId: 'gw', timeZone: 'Asia/Shanghai', now: T0 });
    expect(empty.settled_by_warning.share).toBeNull();
    expect(empty.durations.confirm_to_warn).toEqual({ n: 0, median_s: null, p90_s: null });
  });

  it("`gateway stats` prints them from the box's database, as text or JSON, and says what is wrong", () => {
    const dir = tempDir('gw-stats-');
    seed(`${dir}/data/gateway.db`).close();
    const config = settingsAt(dir, `gateway: { id: gw-s, data_dir: ./data, timezone: Asia/Shanghai }\ncameras: []\n`);
    const run = (o: Parameters<typeof statsCommand>[1]) => {
      const lines: string[] = [];
      const code = statsCommand(config, o, (l) => lines.push(l), T0 + s(86_400));
      return { code, text: lines.join('\n') };
    };
    const all = run({});
    expect(all.code).toBe(0);
    expect(all.text).toContain('settled by warning 75.0 % (3 of 4 resolved by the warning alone)');
    expect(all.text).toMatch(/warn → resolved\s+median 130 s, p90 138 s \(3\)/);
    expect(all.text).toContain('dispatch offers    2: 1 accepted, 1 declined, 0 timed out, 1 to neighbouring towns');
    const json = run({ json: true, since: new Date(T0 + s(3000)).toISOString(), until: new Date(T0 + s(8000)).toISOString() });
    expect(JSON.parse(json.text).events.total).toBe(2);
    expect(run({ since: 'last week' })).toEqual({ code: 2, text: expect.stringContaining('--since "last week" is not a time') });
    const said: string[] = [];
    expect(
      statsCommand(settingsAt(tempDir('gw-stats-'), `gateway: { id: gw-s, data_dir: ./nothing }\ncameras: []\n`), {}, (l) => said.push(l)),
    ).toBe(1);
    expect(said[0]).toMatch(/no database at .*nothing\/gateway\.db \(gateway\.data_dir\)/);
  });
});
