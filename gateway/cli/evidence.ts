/**
 * gateway evidence export EVENT --config FILE --out F [--unredacted --by NAME --reason TEXT]
 * gateway evidence export --chain --config FILE --out F
 * gateway evidence verify F [F...] [--key PEM]
 *
 * Export reads the box's database beside a running gateway (WAL) and records every export;
 * verify needs nothing of the box: only the archives (and, to pin the box, its public key).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedSettings } from '../settings/load.ts';
import { openDb } from '../store/db.ts';
import { EventsRepo } from '../store/events.ts';
import { EvidenceRepo } from '../store/evidence.ts';
import { KEY_FILE, loadOrCreateKey } from '../evidence/keys.ts';
import { exportChain, exportEvent, ExportError } from '../evidence/export.ts';
import { verifyArchives } from '../evidence/verify.ts';

type Out = (line: string) => void;

export function exportCommand(
  config: LoadedSettings,
  o: { event?: string; chain?: boolean; out: string; unredacted?: boolean; by?: string; reason?: string },
  out: Out,
): number {
  const dataDir = config.resolvePath(config.settings.gateway.data_dir);
  const dbFile = join(dataDir, 'gateway.db');
  if (!existsSync(dbFile)) throw new ExportError(`no database at ${dbFile} (gateway.data_dir of ${config.file})`);
  if (!existsSync(join(dataDir, KEY_FILE)))
    throw new ExportError(`no evidence key at ${join(dataDir, KEY_FILE)}: this box has sealed no evidence yet`);
  const key = loadOrCreateKey(dataDir);
  const db = openDb(dbFile);
  try {
    const repo = new EvidenceRepo(db);
    const tar = o.chain
      ? exportChain(repo, key.publicPem, Date.now())
      : exportEvent(repo, new EventsRepo(db), key.publicPem, o.event!, {
          unredacted: !!o.unredacted,
          via: 'cli',
          actor: o.by ?? process.env.USER,
          reason: o.reason,
          target: o.out,
          at: Date.now(),
        });
    writeFileSync(o.out, tar);
    out(
      `${o.out}: ${o.chain ? 'the manifest chain' : `event ${o.event}${o.unredacted ? ', UNREDACTED (recorded)' : ', bystanders blurred'}`}, ${tar.length} bytes`,
    );
    return 0;
  } finally {
    db.close();
  }
}

export function verifyCommand(files: string[], o: { key?: string }, out: Out): number {
  const archives = files.map((f) => {
    try {
      return { name: f, data: readFileSync(f) };
    } catch (e) {
      throw new ExportError(`${f}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  });
  const r = verifyArchives(archives, o.key ? readFileSync(o.key, 'utf8') : undefined);
  for (const l of r.lines) out(l);
  for (const p of r.problems) out(`FAILED: ${p}`);
  out(r.ok ? 'verified' : `verification FAILED (${r.problems.length} problem${r.problems.length > 1 ? 's' : ''})`);
  return r.ok ? 0 : 1;
}
