/**
 * The data folder before anything is opened in it: made private (0700), refused with a
 * clear word when it is read-only, and refused when its database is gone or empty while
 * evidence pictures remain, since a silent fresh start would restart seq at 1 and leave
 * the platform's record and the box's disagreeing. Temp files a crash left are removed.
 */
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cleanEvidenceTemp } from '../events/evidence.ts';

export class DataDirError extends Error {}

/** What a mkdir or access error means for a technician; EROFS is named as such. */
function explain(dir: string, e: NodeJS.ErrnoException): DataDirError {
  if (e.code === 'EROFS')
    return new DataDirError(
      `gateway.data_dir ${dir} is on a read-only file system (EROFS): remount it read-write or point gateway.data_dir elsewhere`,
    );
  if (e.code === 'EACCES' || e.code === 'EPERM')
    return new DataDirError(`gateway.data_dir ${dir}: not writable by this user (${e.code}): ${e.message}`);
  return new DataDirError(`gateway.data_dir ${dir}: ${e.message}`);
}

export function prepareDataDir(dir: string): { db: string; evidence: string; tempRemoved: number } {
  const db = join(dir, 'gateway.db');
  const evidence = join(dir, 'evidence');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // mkdir on an existing folder succeeds even on a read-only mount; access() tells.
    accessSync(dir, constants.W_OK);
    chmodSync(dir, 0o700);
  } catch (e) {
    throw explain(dir, realCause(dir, e as NodeJS.ErrnoException));
  }
  let dbBytes = -1;
  try {
    dbBytes = statSync(db).size;
  } catch {
    // No database yet.
  }
  const days = listOrEmpty(evidence);
  const pictures = days.reduce((n, d) => n + listOrEmpty(join(evidence, d)).filter((f) => f.endsWith('.jpg')).length, 0);
  if (dbBytes <= 0 && pictures > 0)
    throw new DataDirError(
      `${db} is ${dbBytes < 0 ? 'missing' : 'empty (0 bytes)'} but ${evidence} holds ${pictures} evidence pictures: the database was lost or cut, and starting afresh would reuse event numbers. Restore gateway.db from a backup, or move ${evidence} away to start a new record`,
    );
  return { db, evidence, tempRemoved: cleanEvidenceTemp(evidence) };
}

/**
 * Node's recursive mkdir reports ENOENT where a parent folder is on a read-only file
 * system; asking the nearest existing parent gives the real reason (EROFS, EACCES).
 */
function realCause(dir: string, e: NodeJS.ErrnoException): NodeJS.ErrnoException {
  if (e.code !== 'ENOENT') return e;
  for (let d = dirname(dir); ; d = dirname(d)) {
    if (existsSync(d)) {
      try {
        accessSync(d, constants.W_OK);
        return e;
      } catch (why) {
        return why as NodeJS.ErrnoException;
      }
    }
    if (d === dirname(d)) return e;
  }
}

function listOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
