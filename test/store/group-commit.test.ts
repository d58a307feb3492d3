/**
 * Writes queued in one turn of the event loop share one commit; one that fails is rolled
 * back alone and only its caller hears of it; a failed commit fails every write of it.
 */
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { GroupCommit } from '../../gateway/store/group-commit.ts';

const fresh = () => {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  return db;
};
const rows = (db: Database.Database) =>
  (db.prepare('SELECT id, v FROM t ORDER BY id').all() as { id: number; v: string }[]).map((r) => r.v);

describe('group commit', () => {
  it('commits the writes of one turn together, in order; a failing one alone is rolled back', async () => {
    const db = fresh();
    const g = new GroupCommit(db);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const inside: boolean[] = [];
    const write = (v: string | null) =>
      g.run(() => {
        inside.push(db.inTransaction);
        insert.run(v); // null breaks NOT NULL
        return v;
      });
    const settled = Promise.allSettled([write('a'), write(null), write('c')]);
    expect(rows(db)).toEqual([]); // nothing before the turn ends
    const [a, bad, c] = await settled;
    expect(inside).toEqual([true, true, true]);
    expect(a).toEqual({ status: 'fulfilled', value: 'a' });
    expect(c).toEqual({ status: 'fulfilled', value: 'c' });
    expect(bad.status).toBe('rejected');
    expect(String((bad as PromiseRejectedResult).reason)).toMatch(/NOT NULL/);
    expect(rows(db)).toEqual(['a', 'c']);
    // The next turn is a new group.
    await write('d');
    expect(rows(db)).toEqual(['a', 'c', 'd']);
  });

  it('a commit that fails fails every write in it, and writes nothing', async () => {
    const db = fresh();
    const g = new GroupCommit(db);
    // A deferred constraint is checked at COMMIT: the whole group's commit fails.
    db.exec('CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE k (p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)');
    db.pragma('foreign_keys = ON');
    const results = await Promise.allSettled([
      g.run(() => db.prepare('INSERT INTO t (v) VALUES (?)').run('x')),
      g.run(() => db.prepare('INSERT INTO k (p) VALUES (42)').run()),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(rows(db)).toEqual([]);
  });
});
