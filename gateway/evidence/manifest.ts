/**
 * The signed manifest of an event's evidence set. Its exact bytes (JSON) are what is
 * signed (Ed25519) and hashed; each manifest names the previous one's SHA-256 and its own
 * place in the chain, so removing an event's manifest breaks every later link.
 * Only node:crypto here: the verifier runs anywhere, without the box.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export const FORMAT = 'township-evidence/1';

export interface ManifestItem {
  /** File name inside the archive: items/{name} (original) or redacted/{name}. */
  name: string;
  kind: 'still' | 'picture' | 'clip' | 'audio';
  moment: string;
  at: string;
  sha256: string;
  bytes: number;
  source: string | null;
  /** Anything kind-specific: clip start/end, audio codec and speaker, blurred region count. */
  detail?: Record<string, unknown>;
  /** The copy with bystanders blurred, which is what leaves the box by default. */
  redacted?: { sha256: string; bytes: number };
}

export interface Manifest {
  format: typeof FORMAT;
  chain: { seq: number; prev_sha256: string | null };
  gateway: { id: string; version: string; key_sha256: string };
  event: {
    id: string;
    seq: number;
    type: string;
    camera: string;
    zone: string;
    rule: Record<string, unknown>;
    box: number[];
    state: string;
    reason: string | null;
    first_seen_at: string;
    confirmed_at: string;
    closed_at: string | null;
  };
  items: ManifestItem[];
  missing: { kind: string; moment: string; reason: string }[];
  sealed_at: string;
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export function sealManifest(m: Manifest, key: KeyObject): { body: Buffer; signature: Buffer; sha256: string } {
  const body = Buffer.from(`${JSON.stringify(m, null, 2)}\n`);
  return { body, signature: sign(null, body, key), sha256: sha256(body) };
}

export class VerifyError extends Error {}

/** Checks a manifest's signature with a PEM public key and that the manifest names that key. */
export function checkSignature(body: Buffer, signature: Buffer, publicPem: string, where: string): Manifest {
  let key: KeyObject;
  try {
    key = createPublicKey(publicPem);
  } catch (e) {
    throw new VerifyError(`${where}: public-key.pem is not a public key (${(e as Error).message})`);
  }
  if (!verify(null, body, key, signature))
    throw new VerifyError(
      `${where}: the signature does not match manifest.json: the manifest was changed after it was signed, or another key signed it`,
    );
  let m: Manifest;
  try {
    m = JSON.parse(body.toString('utf8'));
  } catch {
    throw new VerifyError(`${where}: manifest.json is not JSON`);
  }
  if (m.format !== FORMAT) throw new VerifyError(`${where}: manifest format "${m.format}", expected "${FORMAT}"`);
  const fp = sha256(key.export({ type: 'spki', format: 'der' }));
  if (m.gateway?.key_sha256 !== fp)
    throw new VerifyError(`${where}: the manifest names key ${m.gateway?.key_sha256}, but public-key.pem is ${fp}`);
  return m;
}

/**
 * Checks that manifests form an unbroken chain: consecutive numbers, each naming the
 * previous one's hash. Returns problems in words (empty: the chain holds).
 */
export function checkChain(links: { seq: number; prev: string | null; sha256: string; eventId: string; where: string }[]): string[] {
  const sorted = [...links].sort((a, b) => a.seq - b.seq);
  const problems: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1], sorted[i]];
    if (b.seq === a.seq) {
      if (b.sha256 !== a.sha256) problems.push(`two different manifests claim place ${b.seq} in the chain (${a.where}, ${b.where})`);
      continue;
    }
    if (b.seq !== a.seq + 1) {
      const gap = b.seq - a.seq - 1;
      problems.push(
        `chain broken between manifest ${a.seq} (event ${a.eventId}) and ${b.seq} (event ${b.eventId}): ${gap} manifest${gap > 1 ? 's' : ''} missing, an event was removed or not given`,
      );
    } else if (b.prev !== a.sha256)
      problems.push(
        `chain broken at manifest ${b.seq} (event ${b.eventId}): it follows a manifest with SHA-256 ${b.prev}, but manifest ${a.seq} (event ${a.eventId}) has ${a.sha256}: the earlier one was replaced or removed`,
      );
  }
  return problems;
}
