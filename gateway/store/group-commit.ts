/**
 * Writes that may wait a turn of the event loop, committed together: one fsync for a burst
 * (synchronous=FULL makes every commit one, several milliseconds on the gateway's own
 * thread). Each write keeps its own savepoint, so one that fails is rolled back alone and
 * only its caller hears of it. A write is durable when its promise resolves.
 */
import type { Db } from './db.ts';

interface Job {
  fn: () => unknown;
  ok: (v: unknown) => void;
  fail: (e: Error) => void;
}

export class GroupCommit {
  private readonly db: Db;
  private readonly jobs: Job[] = [];

  constructor(db: Db) {
    this.db = db;
  }

  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((ok, fail) => {
      this.jobs.push({ fn, ok: ok as (v: unknown) => void, fail });
      if (this.jobs.length === 1) setImmediate(() => this.commit());
    });
  }

  private commit(): void {
    const jobs = this.jobs.splice(0);
    const results: ({ value: unknown } | { error: Error })[] = [];
    try {
      this.db.transaction(() => {
        for (const j of jobs) {
          try {
            // Nested: a savepoint of its own.
            results.push({ value: this.db.transaction(j.fn)() });
          } catch (e) {
            results.push({ error: e as Error });
          }
        }
      })();
    } catch (e) {
      // The commit itself failed (a full disk): nothing of the group was written.
      for (const j of jobs) j.fail(e as Error);
      return;
    }
    jobs.forEach((j, i) => {
      const r = results[i];
      if ('error' in r) j.fail(r.error);
      else j.ok(r.value);
    });
  }
}
