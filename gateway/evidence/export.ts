/**
 * One archive per event (tar): manifest.json, manifest.sig, public-key.pem, export.json and
 * the items. By default only what may leave the box: blurred copies of stills and
 * pictures, the audio; the clip (not blurred: blurring it would mean re-encoding) only in
 * an --unredacted export, which names who asked and why and is recorded in the database.
 * The chain archive holds every manifest, so a removed event shows.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { EvidenceRepo } from '../store/evidence.ts';
import type { EventsRepo } from '../store/events.ts';
import type { Manifest } from './manifest.ts';
import { writeTar, type TarEntry } from './tar.ts';
import type { ExportNote } from './verify.ts';

export class ExportError extends Error {}

export interface ExportRequest {
  unredacted: boolean;
  via: 'cli' | 'http';
  actor?: string;
  reason?: string;
  target?: string;
  at: number;
}

export function exportEvent(repo: EvidenceRepo, events: EventsRepo, publicPem: string, eventId: string, r: ExportRequest): Buffer {
  const e = events.get(eventId);
  if (!e) throw new ExportError(`no event ${eventId} on this gateway`);
  const m = repo.manifestOf(eventId);
  if (!m)
    throw new ExportError(
      `event ${eventId} (${e.state}): its evidence set is not sealed yet; it is sealed when the event ends (resolved, closed or cancelled) and its clip is cut`,
    );
  if (r.unredacted && (!r.actor || !r.reason))
    throw new ExportError('an unredacted export must say who asks for it and why (--by NAME --reason TEXT)');
  const manifest = JSON.parse(m.body.toString('utf8')) as Manifest;
  const stored = new Map(repo.items(eventId).map((i) => [i.name, i]));
  const entries: TarEntry[] = [
    { name: 'manifest.json', data: m.body },
    { name: 'manifest.sig', data: m.signature },
    { name: 'public-key.pem', data: Buffer.from(publicPem) },
  ];
  const withheld: ExportNote['withheld'] = [];
  const gone = (i: { deletedAt: number | null; deletedWhy: string | null }) =>
    `deleted from the box on ${new Date(i.deletedAt!).toISOString()} (${i.deletedWhy})`;
  for (const it of manifest.items) {
    const s = stored.get(it.name);
    if (!s) {
      withheld.push({ name: it.name, why: 'no longer recorded on this box' });
      continue;
    }
    const original = s.deletedAt === null && existsSync(s.path) ? s.path : null;
    const blurred = s.redactedPath && s.redactedDeletedAt === null && existsSync(s.redactedPath) ? s.redactedPath : null;
    if (r.unredacted) {
      if (original) entries.push({ name: `items/${it.name}`, data: readFileSync(original) });
      else if (blurred) {
        entries.push({ name: `redacted/${it.name}`, data: readFileSync(blurred) });
        withheld.push({ name: it.name, why: `original ${gone(s)}; the blurred copy is included` });
      } else withheld.push({ name: it.name, why: gone(s) });
      continue;
    }
    if (it.redacted) {
      if (blurred) entries.push({ name: `redacted/${it.name}`, data: readFileSync(blurred) });
      else withheld.push({ name: it.name, why: s.redactedDeletedAt ? gone({ ...s, deletedAt: s.redactedDeletedAt }) : 'no blurred copy' });
    } else if (it.kind === 'audio') {
      // The spoken warning shows no one: it leaves as it is.
      if (original) entries.push({ name: `items/${it.name}`, data: readFileSync(original) });
      else withheld.push({ name: it.name, why: gone(s) });
    } else withheld.push({ name: it.name, why: 'not blurred (the clip shows bystanders); only in an --unredacted export' });
  }
  const note: ExportNote = { kind: 'event', exported_at: new Date(r.at).toISOString(), unredacted: r.unredacted, withheld };
  entries.push({ name: 'export.json', data: Buffer.from(`${JSON.stringify(note, null, 2)}\n`) });
  repo.audit({ eventId, at: r.at, unredacted: r.unredacted, via: r.via, actor: r.actor, reason: r.reason, target: r.target });
  return writeTar(entries.map((x) => ({ ...x, mtime: r.at })));
}

export function exportChain(repo: EvidenceRepo, publicPem: string, at: number): Buffer {
  const entries: TarEntry[] = [{ name: 'public-key.pem', data: Buffer.from(publicPem) }];
  const all = repo.manifests();
  if (!all.length) throw new ExportError('no evidence manifest sealed yet on this gateway');
  for (const m of all) {
    const n = String(m.seq).padStart(6, '0');
    entries.push({ name: `chain/${n}.json`, data: m.body }, { name: `chain/${n}.sig`, data: m.signature });
  }
  const note: ExportNote = { kind: 'chain', exported_at: new Date(at).toISOString(), unredacted: false, withheld: [] };
  entries.push({ name: 'export.json', data: Buffer.from(`${JSON.stringify(note, null, 2)}\n`) });
  return writeTar(entries.map((x) => ({ ...x, mtime: at })));
}
