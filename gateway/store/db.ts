/**
 * The gateway's one SQLite database. WAL for concurrent reads while the pipeline
 * writes; synchronous=FULL because an event, once confirmed, must survive a power cut.
 * Migrations are numbered SQL files applied in order, each in its own transaction.
 */
import Database from 'better-sqlite3';
import { chmodSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Db = Database.Database;

const MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

export function openDb(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let db: Db;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
  } catch (e) {
    throw new Error(`database ${path}: cannot open: ${(e as Error).message}`);
  }
  // Events name places and plates: the database is for the gateway's user only (WAL and SHM too).
  if (path !== ':memory:') for (const f of [path, `${path}-wal`, `${path}-shm`]) chmodIfThere(f, 0o600);
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, path);
  return db;
}

function migrate(db: Db, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  const files = readdirSync(MIGRATIONS)
    .filter((f) => /^\d{3}_.*\.sql$/.test(f))
    .sort();
  const latest = files.length ? Number(files.at(-1)!.slice(0, 3)) : 0;
  if (version > latest)
    throw new Error(`database ${path} has schema version ${version}, newer than this gateway (${latest}); upgrade the gateway`);
  for (const f of files) {
    const n = Number(f.slice(0, 3));
    if (n <= version) continue;
    const sql = readFileSync(join(MIGRATIONS, f), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${n}`);
    })();
  }
}

function chmodIfThere(f: string, mode: number): void {
  try {
    chmodSync(f, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
