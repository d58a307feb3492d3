/**
 * HTTP-style authentication challenges (RFC 7616 Digest, RFC 7617 Basic): reading
 * WWW-Authenticate / Proxy-Authenticate values, choosing the strongest one we can answer,
 * and writing the Authorization value. Pure arithmetic with no transport, so HTTP, RTSP
 * (RFC 2326 section 16) and SIP (RFC 3261 section 22) all answer challenges the same way.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface Challenge {
  scheme: string; // lower case: 'digest', 'basic', ...
  params: Record<string, string>; // names lower case, values unquoted
}

const HASHES: Record<string, string> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };
const STRENGTH = ['MD5', 'SHA-256', 'SHA-512-256'];
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;

/** Reads WWW-Authenticate values; one value may hold several challenges, and quoted commas are data. */
export function parseChallenges(values: readonly string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const v of values) {
    let i = 0;
    let current: Challenge | undefined;
    const skip = (chars: string) => {
      while (i < v.length && chars.includes(v[i])) i++;
    };
    const until = (stop: (c: string) => boolean) => {
      const s = i;
      while (i < v.length && !stop(v[i])) i++;
      return v.slice(s, i);
    };
    while (i < v.length) {
      skip(' \t,');
      const name = until((c) => !TCHAR.test(c));
      if (!name) {
        i++;
        continue;
      }
      skip(' \t');
      if (v[i] !== '=' || !current) {
        out.push((current = { scheme: name.toLowerCase(), params: {} })); // a new challenge starts
        continue;
      }
      i++;
      skip(' \t');
      let value = '';
      if (v[i] === '"') {
        for (i++; i < v.length && v[i] !== '"'; i++) value += v[i] === '\\' ? (v[++i] ?? '') : v[i];
        i++; // the closing quote
      } else value = until((c) => c === ',' || c === ' ');
      current.params[name.toLowerCase()] = value;
    }
  }
  return out;
}

function qops(c: Challenge): string[] {
  return (c.params.qop ?? '')
    .split(',')
    .map((q) => q.trim().toLowerCase())
    .filter(Boolean);
}

/** The strongest challenge we can answer: Digest by hash strength (qop=auth or none), then Basic. */
export function pickChallenge(list: readonly Challenge[]): Challenge | undefined {
  let best: Challenge | undefined;
  let bestRank = -1;
  for (const c of list) {
    let rank = -1;
    if (c.scheme === 'digest') {
      const alg = (c.params.algorithm ?? 'MD5').toUpperCase().replace(/-SESS$/, '');
      const q = qops(c);
      if (HASHES[alg] && (q.length === 0 || q.includes('auth'))) rank = 10 + STRENGTH.indexOf(alg);
    } else if (c.scheme === 'basic') rank = 0;
    if (rank > bestRank) [best, bestRank] = [c, rank];
  }
  return best;
}

const quote = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;

export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/** The Authorization value answering one Digest challenge (RFC 7616 section 3.4). */
export function digestAuthorization(a: {
  user: string;
  password: string;
  method: string;
  uri: string;
  challenge: Challenge;
  nc: number;
  cnonce?: string;
}): string {
  const p = a.challenge.params;
  const algorithm = (p.algorithm ?? 'MD5').toUpperCase();
  const sess = algorithm.endsWith('-SESS');
  const hash = HASHES[sess ? algorithm.slice(0, -5) : algorithm];
  if (!hash) throw new Error(`digest algorithm ${algorithm} is not supported`);
  const H = (s: string) => createHash(hash).update(s, 'utf8').digest('hex');
  const [realm, nonce] = [p.realm ?? '', p.nonce ?? ''];
  const qop = qops(a.challenge).length > 0 ? 'auth' : undefined;
  const cnonce = a.cnonce ?? randomBytes(16).toString('hex');
  const nc = a.nc.toString(16).padStart(8, '0');
  let ha1 = H(`${a.user}:${realm}:${a.password}`);
  if (sess) ha1 = H(`${ha1}:${nonce}:${cnonce}`);
  const ha2 = H(`${a.method}:${a.uri}`);
  const response = qop ? H(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : H(`${ha1}:${nonce}:${ha2}`);
  const userhash = p.userhash?.toLowerCase() === 'true';
  const parts = [
    `username=${quote(userhash ? H(`${a.user}:${realm}`) : a.user)}`,
    `realm=${quote(realm)}`,
    `nonce=${quote(nonce)}`,
    `uri=${quote(a.uri)}`,
    `response="${response}"`,
  ];
  // Echo only what the device named: some firmware rejects parameters it never offered.
  if (p.algorithm) parts.push(`algorithm=${p.algorithm}`);
  if (p.opaque !== undefined) parts.push(`opaque=${quote(p.opaque)}`);
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${quote(cnonce)}`);
  if (userhash) parts.push('userhash=true');
  return `Digest ${parts.join(', ')}`;
}
