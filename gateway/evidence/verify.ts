/**
 * `gateway evidence verify F [F...]`: checks evidence archives anywhere, without the box
 * and without its database. An event archive holds manifest.json, manifest.sig,
 * public-key.pem and the items (items/ originals, redacted/ blurred copies); a chain
 * archive holds every manifest (chain/NNNNNN.json and .sig). Given several archives, or a
 * chain archive, it also checks that the manifests chain without a gap.
 */
import { createPublicKey } from 'node:crypto';
import { readTar, type TarEntry } from './tar.ts';
import { checkChain, checkSignature, sha256, VerifyError, type Manifest } from './manifest.ts';

export interface VerifyReport {
  ok: boolean;
  /** What was checked and held. */
  lines: string[];
  /** What failed, each naming the archive and the file. */
  problems: string[];
}

interface Link {
  seq: number;
  prev: string | null;
  sha256: string;
  eventId: string;
  where: string;
}

export function verifyArchives(archives: { name: string; data: Buffer }[], pinnedKeyPem?: string): VerifyReport {
  const lines: string[] = [];
  const problems: string[] = [];
  const links: Link[] = [];
  const pinned = pinnedKeyPem ? keyId(pinnedKeyPem) : null;
  for (const a of archives) {
    let entries: TarEntry[];
    try {
      entries = readTar(a.data, a.name);
    } catch (e) {
      problems.push((e as Error).message);
      continue;
    }
    const files = new Map(entries.map((e) => [e.name, e.data]));
    const pem = files.get('public-key.pem')?.toString('utf8');
    if (!pem) {
      problems.push(`${a.name}: no public-key.pem in the archive`);
      continue;
    }
    if (pinned && keyId(pem) !== pinned) problems.push(`${a.name}: signed by key ${keyId(pem)}, not the pinned key ${pinned}`);
    try {
      if (files.has('manifest.json')) links.push(verifyEvent(a.name, files, pem, lines, problems));
      else if ([...files.keys()].some((n) => n.startsWith('chain/'))) links.push(...verifyChainArchive(a.name, files, pem, lines));
      else problems.push(`${a.name}: neither an event archive (manifest.json) nor a chain archive (chain/)`);
    } catch (e) {
      if (!(e instanceof VerifyError)) throw e;
      problems.push(e.message);
    }
  }
  if (links.length > 1) {
    const broken = checkChain(links);
    problems.push(...broken);
    if (!broken.length) {
      const seqs = links.map((l) => l.seq).sort((x, y) => x - y);
      lines.push(`chain: manifests ${seqs[0]}..${seqs.at(-1)} link without a gap`);
    }
  }
  return { ok: problems.length === 0, lines, problems };
}

function keyId(pem: string): string {
  return sha256(createPublicKey(pem).export({ type: 'spki', format: 'der' }));
}

function verifyEvent(where: string, files: Map<string, Buffer>, pem: string, lines: string[], problems: string[]): Link {
  const body = files.get('manifest.json')!;
  const sig = files.get('manifest.sig');
  if (!sig) throw new VerifyError(`${where}: no manifest.sig in the archive`);
  const m: Manifest = checkSignature(body, sig, pem, where);
  const note = files.has('export.json') ? (JSON.parse(files.get('export.json')!.toString('utf8')) as ExportNote) : null;
  const withheld = new Map((note?.withheld ?? []).map((w) => [w.name, w.why]));
  const known = new Set(['manifest.json', 'manifest.sig', 'public-key.pem', 'export.json']);
  let checked = 0;
  const absent: string[] = [];
  for (const it of m.items) {
    const original = files.get(`items/${it.name}`);
    const blurred = files.get(`redacted/${it.name}`);
    known.add(`items/${it.name}`).add(`redacted/${it.name}`);
    if (original) {
      if (original.length !== it.bytes || sha256(original) !== it.sha256)
        problems.push(`${where}: items/${it.name}: SHA-256 does not match the manifest: the file was changed`);
      else checked++;
    }
    if (blurred) {
      if (!it.redacted) problems.push(`${where}: redacted/${it.name}: the manifest has no blurred copy of this item`);
      else if (blurred.length !== it.redacted.bytes || sha256(blurred) !== it.redacted.sha256)
        problems.push(`${where}: redacted/${it.name}: SHA-256 does not match the manifest: the file was changed`);
      else checked++;
    }
    if (!original && !blurred) {
      const why = withheld.get(it.name);
      if (why) absent.push(`${it.name} (${why})`);
      else problems.push(`${where}: ${it.name} is in the manifest but not in the archive, and the export does not say why`);
    }
  }
  for (const name of files.keys()) if (!known.has(name)) problems.push(`${where}: ${name} is not in the manifest`);
  lines.push(
    `${where}: event ${m.event.id} (${m.event.type}, ${m.event.camera}/${m.event.zone}), manifest ${m.chain.seq} signed by ${m.gateway.id} key ${m.gateway.key_sha256.slice(0, 16)}…: signature good, ${checked} file(s) match their SHA-256`,
  );
  if (absent.length) lines.push(`${where}: not in this archive: ${absent.join('; ')}`);
  if (m.missing.length)
    lines.push(`${where}: not captured on the box: ${m.missing.map((x) => `${x.moment} ${x.kind} (${x.reason})`).join('; ')}`);
  return { seq: m.chain.seq, prev: m.chain.prev_sha256, sha256: sha256(body), eventId: m.event.id, where };
}

function verifyChainArchive(where: string, files: Map<string, Buffer>, pem: string, lines: string[]): Link[] {
  const links: Link[] = [];
  for (const [name, body] of files) {
    const m = /^chain\/(\d+)\.json$/.exec(name);
    if (!m) continue;
    const sig = files.get(`chain/${m[1]}.sig`);
    if (!sig) throw new VerifyError(`${where}: ${name} has no signature chain/${m[1]}.sig`);
    const man = checkSignature(body, sig, pem, `${where}: ${name}`);
    if (man.chain.seq !== Number(m[1])) throw new VerifyError(`${where}: ${name} says it is manifest ${man.chain.seq}`);
    links.push({
      seq: man.chain.seq,
      prev: man.chain.prev_sha256,
      sha256: sha256(body),
      eventId: man.event.id,
      where: `${where}: ${name}`,
    });
  }
  if (!links.length) throw new VerifyError(`${where}: the chain archive holds no manifest`);
  const first = Math.min(...links.map((l) => l.seq));
  if (first !== 1) throw new VerifyError(`${where}: the chain starts at manifest ${first}, not 1: the first ${first - 1} were removed`);
  lines.push(`${where}: ${links.length} manifest(s), every signature good`);
  return links;
}

/** Unsigned notes the export adds: when, whether blurred, and what it left out and why. */
export interface ExportNote {
  kind: 'event' | 'chain';
  exported_at: string;
  unredacted: boolean;
  withheld: { name: string; why: string }[];
}
