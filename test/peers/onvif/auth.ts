/**
 * The two ways an ONVIF device checks a client, done the way firmware does them:
 * WS-UsernameToken (ONVIF Core 5.12.2: PasswordDigest = base64(sha1(nonce + created +
 * password)), Created compared with the device clock) and HTTP Digest (RFC 7616, MD5,
 * qop=auth, server nonces that expire).
 */
import { createHash, randomBytes } from 'node:crypto';
import { kid, WSSE_NS, type Node } from './soap.ts';

export type WsseResult = 'absent' | 'ok' | 'unknown-user' | 'wrong-password' | 'stale' | 'replayed' | 'malformed';

export interface WsseCheck {
  user: string;
  password: string;
  /** Device clock, ms since epoch. */
  now: number;
  toleranceMs: number;
  /** (nonce, created) pairs this device has accepted: a captured header must not work twice. */
  seen: Map<string, number>;
}

export function checkUsernameToken(header: Node | undefined, c: WsseCheck): WsseResult {
  const security = header?.children.find((n) => n.name === 'Security' && n.ns === WSSE_NS);
  if (!security) return 'absent';
  const token = kid(security, 'UsernameToken');
  const user = kid(token, 'Username')?.text;
  const pw = kid(token, 'Password');
  const nonce = kid(token, 'Nonce')?.text ?? '';
  const created = kid(token, 'Created')?.text ?? '';
  if (!token || user === undefined || !pw) return 'malformed';
  if (user !== c.user) return 'unknown-user';
  const type = pw.attrs.Type ?? '';
  if (type.endsWith('#PasswordText')) return pw.text === c.password ? 'ok' : 'wrong-password';
  const expected = createHash('sha1')
    .update(Buffer.concat([Buffer.from(nonce, 'base64'), Buffer.from(created, 'utf8'), Buffer.from(c.password, 'utf8')]))
    .digest('base64');
  if (expected !== pw.text) return 'wrong-password';
  const t = Date.parse(created);
  if (!Number.isFinite(t) || Math.abs(t - c.now) > c.toleranceMs) return 'stale';
  // libonvif reseeds rand() with time(NULL) per request, so its nonces repeat within a
  // second; real firmwares therefore key replay detection on nonce and Created together.
  const key = `${nonce}|${created}`;
  for (const [k, at] of c.seen) if (at < c.now - 2 * c.toleranceMs) c.seen.delete(k);
  if (c.seen.has(key)) return 'replayed';
  c.seen.set(key, c.now);
  return 'ok';
}

export type DigestResult = 'absent' | 'ok' | 'wrong' | 'stale-nonce' | 'malformed';

/** Splits `Digest a="b", c=d` into its parameters, honouring quotes. */
export function parseAuthParams(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = header.indexOf(' ') + 1;
  while (i > 0 && i < header.length) {
    while (header[i] === ' ' || header[i] === ',') i++;
    const eq = header.indexOf('=', i);
    if (eq < 0) break;
    const key = header.slice(i, eq).trim().toLowerCase();
    let value = '';
    i = eq + 1;
    if (header[i] === '"') {
      i++;
      while (i < header.length && header[i] !== '"') value += header[i++] === '\\' ? header[i++] : header[i - 1];
      i++;
    } else {
      const end = header.indexOf(',', i);
      value = header.slice(i, end < 0 ? undefined : end).trim();
      i = end < 0 ? header.length : end;
    }
    out[key] = value;
  }
  return out;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

export class DigestAuth {
  private readonly nonces = new Map<string, number>();
  readonly realm: string;
  private readonly user: string;
  private readonly password: string;
  private readonly nonceTtlMs: number;
  constructor(realm: string, user: string, password: string, nonceTtlMs = 60_000) {
    this.realm = realm;
    this.user = user;
    this.password = password;
    this.nonceTtlMs = nonceTtlMs;
  }

  /** A WWW-Authenticate value, Hikvision style (qop=auth, MD5 implied). */
  challenge(stale = false): string {
    const nonce = randomBytes(16).toString('hex');
    this.nonces.set(nonce, Date.now());
    return `Digest qop="auth", realm="${this.realm}", nonce="${nonce}", stale="${stale ? 'TRUE' : 'FALSE'}"`;
  }

  verify(method: string, uri: string, authorization: string | undefined): DigestResult {
    if (!authorization) return 'absent';
    if (!/^digest /i.test(authorization)) return 'malformed';
    const p = parseAuthParams(authorization);
    if (!p.username || !p.nonce || !p.response || !p.uri) return 'malformed';
    const issued = this.nonces.get(p.nonce);
    if (issued === undefined) return 'stale-nonce';
    if (Date.now() - issued > this.nonceTtlMs) {
      this.nonces.delete(p.nonce);
      return 'stale-nonce';
    }
    // The digest covers the URI the client says it used; it must be this request's.
    if (p.uri !== uri) return 'wrong';
    if (p.username !== this.user || (p.realm ?? '') !== this.realm) return 'wrong';
    const algorithm = (p.algorithm ?? 'MD5').toUpperCase();
    if (algorithm !== 'MD5') return 'malformed';
    const ha1 = md5(`${this.user}:${this.realm}:${this.password}`);
    const ha2 = md5(`${method}:${p.uri}`);
    const expected = p.qop ? md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`) : md5(`${ha1}:${p.nonce}:${ha2}`);
    return expected === p.response ? 'ok' : 'wrong';
  }
}
