/** The SQLite store on temp file databases: migrations, the outbox and the events tables. */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../gateway/store/db.ts';
import { OutboxRepo, PRIORITY, type NewMessage } from '../../gateway/store/outbox.ts';
import { EventsRepo } from '../../gateway/store/events.ts';
import type { EventRecord } from '../../gateway/events/types.ts';
import { readdirSync } from 'node:fs';

/** The newest migration number: the schema version a fresh database gets. */
const LATEST = Math.max(
  ...readdirSync(new URL('../../gateway/store/migrations/', import.meta.url))
    .map((f) => Number(f.slice(0, 3)))
    .filter(Number.isFinite),
);

const root = mkdtempSync(join(tmpdir(), 'gw-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const open: Db[] = [];
afterEach(() => {
  while (open.length) {
    const db = open.pop()!;
    if (db.open) db.close();
  }
});
let n = 0;
function fresh(): { db: Db; path: string } {
  const path = join(root, `db-${++n}`, 'gateway.db');
  const db = openDb(path);
  open.push(db);
  return { db, path };
}

describe('openDb', () => {
  it('creates the folder and applies the migrations to a file database', () => {
    const { db, path } = fresh();
    expect(existsSync(path)).toBe(true);
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map(
      (t) => t.name,
    );
    for (const t of ['dispatches', 'event_transitions', 'events', 'officer_state', 'outbox', 'warnings']) expect(tables).toContain(t);
  });

  it('reopening keeps the data and does not re-apply migrations', () => {
    const { db, path } = fresh();
    new OutboxRepo(db).add({ msgId: 'm1', topic: 't', payload: 'x', qos: 1, priority: 1 }, 1);
    db.close();
    const again = openDb(path);
    open.push(again);
    expect(again.pragma('user_version', { simple: true })).toBe(LATEST);
    expect(new OutboxRepo(again).size().messages).toBe(1);
  });

  it('refuses a database from a newer gateway', () => {
    const { db, path } = fresh();
    db.pragma('user_version = 99');
    db.close();
    expect(() => openDb(path)).toThrow(new RegExp(`schema version 99, newer than this gateway \\(${LATEST}\\)`));
  });

  it('a path that cannot be a database is a clear error', () => {
    // A folder where the file should be.
    const dir = join(root, 'is-a-dir');
    mkdirSync(dir, { recursive: true });
    expect(() => openDb(dir)).toThrow(new RegExp(`database ${dir}: cannot open`));
  });
});

describe('OutboxRepo', () => {
  const msg = (id: string, priority: number, orderKey: string | null = null, extra: Partial<NewMessage> = {}): NewMessage => ({
    msgId: id,
    topic: `t/${id}`,
    payload: `{"id":"${id}"}`,
    qos: 1,
    priority,
    orderKey,
    ...extra,
  });
  const ids = (o: OutboxRepo, limit = 100, inFlight = new Set<number>()) => o.next(limit, inFlight).map((m) => m.msgId);

  it('returns messages in priority order, then in the order written', () => {
    const o = new OutboxRepo(fresh().db);
    o.add(msg('tel-1', PRIORITY.telemetry), 1);
    o.add(msg('ev-1', PRIORITY.event), 2);
    o.add(msg('st-1', PRIORITY.status), 3);
    o.add(msg('disp-1', PRIORITY.dispatch), 4);
    o.add(msg('ev-2', PRIORITY.event), 5);
    expect(ids(o)).toEqual(['disp-1', 'ev-1', 'ev-2', 'st-1', 'tel-1']);
    expect(ids(o, 2)).toEqual(['disp-1', 'ev-1']);
  });

  it('round-trips every field', () => {
    const o = new OutboxRepo(fresh().db);
    o.add(
      {
        msgId: 'a',
        topic: 'township/gw/event',
        payload: Buffer.from([0, 1, 2, 255]),
        qos: 0,
        retain: true,
        priority: 1,
        orderKey: 'ev-9',
        expiresAt: 5000,
      },
      1234,
    );
    const [m] = o.next(10, new Set());
    expect(m).toMatchObject({
      msgId: 'a',
      topic: 'township/gw/event',
      qos: 0,
      retain: true,
      priority: 1,
      orderKey: 'ev-9',
      createdAt: 1234,
      expiresAt: 5000,
      attempts: 0,
    });
    expect(Buffer.from(m.payload).equals(Buffer.from([0, 1, 2, 255]))).toBe(true);
    o.attempted([m.id]);
    o.attempted([m.id]);
    expect(o.next(10, new Set())[0].attempts).toBe(2);
    // A burst in one call (one transaction): each counted once, and delivered together.
    o.add(msg('second', 1), 2);
    const both = o.next(10, new Set()).map((x) => x.id);
    o.attempted(both);
    expect(o.next(10, new Set()).map((x) => x.attempts)).toEqual([3, 1]);
    o.delivered(both);
    expect(o.next(10, new Set())).toEqual([]);
  });

  it('a second add with the same msg_id is ignored (a re-send is the same message)', () => {
    const o = new OutboxRepo(fresh().db);
    o.add(msg('same', 1), 1);
    o.add({ ...msg('same', 0), payload: 'other' }, 2);
    const all = o.next(10, new Set());
    expect(all).toHaveLength(1);
    expect(all[0].payload.toString()).toBe('{"id":"same"}');
  });

  it('keeps order per order_key: a later high-priority message waits for the earlier one', () => {
    const o = new OutboxRepo(fresh().db);
    o.add(msg('ev-A-confirmed', PRIORITY.event, 'A'), 1);
    o.add(msg('st-1', PRIORITY.status), 2);
    o.add(msg('ev-A-dispatch', PRIORITY.dispatch, 'A'), 3); // high priority, but after A's first message
    o.add(msg('ev-B-dispatch', PRIORITY.dispatch, 'B'), 4);
    expect(ids(o)).toEqual(['ev-B-dispatch', 'ev-A-confirmed', 'st-1']);
    const first = o.next(10, new Set()).find((m) => m.msgId === 'ev-A-confirmed')!;
    o.delivered([first.id]);
    expect(ids(o)).toEqual(['ev-A-dispatch', 'ev-B-dispatch', 'st-1']);
  });

  it('skips in-flight ids, and the successor of an in-flight message still waits', () => {
    const o = new OutboxRepo(fresh().db);
    o.add(msg('a1', 1, 'A'), 1);
    o.add(msg('a2', 1, 'A'), 2);
    o.add(msg('x', 1), 3);
    o.add(msg('y', 2), 4);
    const a1 = o.next(10, new Set())[0];
    expect(a1.msgId).toBe('a1');
    const inFlight = new Set([a1.id]);
    expect(ids(o, 10, inFlight)).toEqual(['x', 'y']);
    // The limit applies after skipping: still one message comes back.
    expect(ids(o, 1, inFlight)).toEqual(['x']);
    const x = o.next(10, inFlight).find((m) => m.msgId === 'x')!;
    inFlight.add(x.id);
    expect(ids(o, 1, inFlight)).toEqual(['y']);
  });

  it('prune drops expired messages of any priority', () => {
    const o = new OutboxRepo(fresh().db);
    o.add(msg('old-ev', 1, null, { expiresAt: 1000 }), 1);
    o.add(msg('fresh-ev', 1, null, { expiresAt: 5000 }), 1);
    o.add(msg('forever', 1), 1);
    expect(o.prune(2000, 1000)).toBe(1);
    expect(ids(o)).toEqual(['fresh-ev', 'forever']);
  });

  it('prune drops only the oldest telemetry beyond the cap, never events', () => {
    const o = new OutboxRepo(fresh().db);
    for (let i = 0; i < 5; i++) o.add(msg(`ev-${i}`, PRIORITY.event), i);
    for (let i = 0; i < 5; i++) o.add(msg(`tel-${i}`, PRIORITY.telemetry), 10 + i);
    o.add(msg('disp', PRIORITY.dispatch), 20);
    expect(o.size().messages).toBe(11);
    expect(o.prune(100, 8)).toBe(3);
    expect(ids(o)).toEqual(['disp', 'ev-0', 'ev-1', 'ev-2', 'ev-3', 'ev-4', 'tel-3', 'tel-4']);
    // Beyond the cap with events only: nothing more is dropped.
    expect(o.prune(100, 3)).toBe(2);
    expect(ids(o)).toEqual(['disp', 'ev-0', 'ev-1', 'ev-2', 'ev-3', 'ev-4']);
    expect(o.prune(100, 3)).toBe(0);
    expect(o.size().messages).toBe(6);
  });

  it('size counts messages and payload bytes', () => {
    const o = new OutboxRepo(fresh().db);
    expect(o.size()).toEqual({ messages: 0, bytes: 0 });
    o.add({ msgId: '1', topic: 't', payload: Buffer.alloc(100), qos: 1, priority: 1 }, 1);
    o.add({ msgId: '2', topic: 't', payload: 'héllo', qos: 1, priority: 1 }, 1);
    expect(o.size()).toEqual({ messages: 2, bytes: 106 });
  });

  it('survives a reopen: nothing written is lost', () => {
    const { db, path } = fresh();
    const o = new OutboxRepo(db);
    for (let i = 0; i < 20; i++) o.add(msg(`m${i}`, i % 4, i % 3 === 0 ? 'K' : null), i);
    const before = ids(o);
    db.close();
    const db2 = openDb(path);
    open.push(db2);
    expect(ids(new OutboxRepo(db2))).toEqual(before);
  });
});

describe('EventsRepo', () => {
  const ev = (id: string, o: Partial<EventRecord> = {}): Omit<EventRecord, 'seq'> => ({
    id,
    type: 'illegal_parking',
    camera: 'cam-1',
    zone: 'z1',
    state: 'confirmed',
    trackIds: [3, 4],
    classes: ['car'],
    box: [0.1, 0.2, 0.3, 0.4],
    firstSeenAt: 1000,
    confirmedAt: 181_000,
    dueAt: null,
    evidencePath: '/data/evidence/x.jpg',
    evidenceSha256: 'ab'.repeat(32),
    officerId: null,
    reason: null,
    data: { place: '中心街东口' },
    updatedAt: 181_000,
    closedAt: null,
    ...o,
  });

  it('insert returns increasing seq numbers and get round-trips every field', () => {
    const r = new EventsRepo(fresh().db);
    const a = r.insert(ev('01A'));
    const b = r.insert(ev('01B'));
    expect(a.seq).toBeGreaterThan(0);
    expect(b.seq).toBe(a.seq + 1);
    expect(r.get('01A')).toEqual(a);
    expect(r.get('nope')).toBeNull();
  });

  it('a duplicate event id is refused (one event is never two)', () => {
    const r = new EventsRepo(fresh().db);
    r.insert(ev('DUP'));
    expect(() => r.insert(ev('DUP'))).toThrow(/UNIQUE/);
  });

  it('update records a transition only when the state changes', () => {
    const r = new EventsRepo(fresh().db);
    const e = r.insert(ev('E1'));
    r.update({ ...e, state: 'warned', dueAt: 301_000, updatedAt: 182_000 }, 'confirmed', 182_000, { speaker: 'spk-1' });
    r.update({ ...e, state: 'warned', dueAt: 301_000, data: { place: 'x', n: 2 }, updatedAt: 183_000 }, 'warned', 183_000);
    r.update(
      { ...e, state: 'resolved_by_warning', reason: 'gone after warning', dueAt: null, updatedAt: 301_000, closedAt: 301_000 },
      'warned',
      301_000,
    );
    const got = r.get('E1')!;
    expect(got.state).toBe('resolved_by_warning');
    expect(got.reason).toBe('gone after warning');
    expect(got.closedAt).toBe(301_000);
    expect(r.transitions('E1')).toEqual([
      { from: null, to: 'confirmed', at: 181_000, data: {} },
      { from: 'confirmed', to: 'warned', at: 182_000, data: { speaker: 'spk-1' } },
      { from: 'warned', to: 'resolved_by_warning', at: 301_000, data: {} },
    ]);
  });

  it('open() lists unclosed events in seq order', () => {
    const r = new EventsRepo(fresh().db);
    const a = r.insert(ev('A'));
    r.insert(ev('B', { camera: 'cam-2' }));
    r.insert(ev('C'));
    r.update({ ...a, state: 'closed', closedAt: 200_000, updatedAt: 200_000 }, 'confirmed', 200_000);
    expect(r.open().map((e) => e.id)).toEqual(['B', 'C']);
    expect(r.recent(2).map((e) => e.id)).toEqual(['C', 'B']);
  });

  it('atSpot: open events and those closed since the cooldown start, at that camera, zone and type', () => {
    const r = new EventsRepo(fresh().db);
    const old = r.insert(ev('OLD'));
    const recent = r.insert(ev('RECENT'));
    r.insert(ev('OPEN'));
    r.insert(ev('OTHER-ZONE', { zone: 'z2' }));
    r.insert(ev('OTHER-CAM', { camera: 'cam-2' }));
    r.insert(ev('OTHER-TYPE', { type: 'street_vending' }));
    r.update({ ...old, state: 'closed', closedAt: 100_000, updatedAt: 100_000 }, 'confirmed', 100_000);
    r.update({ ...recent, state: 'closed', closedAt: 500_000, updatedAt: 500_000 }, 'confirmed', 500_000);
    expect(r.atSpot('cam-1', 'z1', 'illegal_parking', 400_000).map((e) => e.id)).toEqual(['OPEN', 'RECENT']);
    expect(r.atSpot('cam-1', 'z1', 'illegal_parking', 0).map((e) => e.id)).toEqual(['OPEN', 'RECENT', 'OLD']);
    expect(r.atSpot('cam-1', 'z2', 'illegal_parking', 0).map((e) => e.id)).toEqual(['OTHER-ZONE']);
  });

  it('tx writes the event and its outbox message together or not at all', () => {
    const { db } = fresh();
    const r = new EventsRepo(db);
    const o = new OutboxRepo(db);
    expect(() =>
      r.tx(() => {
        r.insert(ev('TX'));
        o.add({ msgId: 'tx-msg', topic: 't', payload: 'p', qos: 1, priority: 1, orderKey: 'TX' }, 1);
        throw new Error('power cut');
      }),
    ).toThrow('power cut');
    expect(r.get('TX')).toBeNull();
    expect(o.size().messages).toBe(0);
    r.tx(() => {
      r.insert(ev('TX'));
      o.add({ msgId: 'tx-msg', topic: 't', payload: 'p', qos: 1, priority: 1, orderKey: 'TX' }, 1);
    });
    expect(r.get('TX')).not.toBeNull();
    expect(o.size().messages).toBe(1);
  });
});
