/**
 * HTTP Digest (RFC 7616) and Basic (RFC 7617) client over node:http, shared by the vendor
 * HTTP drivers (Hikvision ISAPI, Dahua CGI, ONVIF snapshots). Cameras differ in what they
 * offer (MD5 only, SHA-256 beside MD5, Basic only on old firmware), so the strongest
 * challenge we can answer wins.
 *
 * Streaming bodies (a speaker upload) cannot be replayed, so they never serve to learn the
 * challenge: an empty request to the same URL does that first, and the stream goes once.
 * Replayable bodies reuse a session's challenge up front and retry once on a stale nonce.
 */
import http from 'node:http';
import https from 'node:https';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeviceError, fromSocketError } from '../errors.ts';

export type RequestBody = Buffer | AsyncIterable<Uint8Array>;

export interface DigestRequestOptions {
  url: string | URL;
  method?: string;
  user?: string;
  password?: string;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Socket inactivity limit: connecting, between body writes, waiting for the answer. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Keeps challenges and nonce counts across requests to the same device. */
  session?: DigestSession;
  /** Names the device in errors; the URL's host if not given. */
  device?: string;
  /** Streaming bodies only: once all is sent, wait this long for an answer, then settle with status 0. */
  answerGraceMs?: number;
  maxAnswerBytes?: number;
  /** https only; cameras mostly carry self-signed certificates. */
  rejectUnauthorized?: boolean;
}

export interface DigestResponse {
  /** 0 when a streamed upload was not answered within answerGraceMs. */
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Body bytes handed to the socket. */
  sentBytes: number;
}

export interface Challenge {
  scheme: string; // lower case: 'digest', 'basic', ...
  params: Record<string, string>; // names lower case, values unquoted
}

/** Per-device memory of the last challenge, so nc counts on and round trips are saved. */
export class DigestSession {
  readonly #entries = new Map<string, { challenge: Challenge; nc: number }>();
  get = (key: string) => this.#entries.get(key);
  set = (key: string, challenge: Challenge) => (this.#entries.set(key, { challenge, nc: 0 }), this.#entries.get(key)!);
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
  return (c.params.qop ?? '').split(',').map((q) => q.trim().toLowerCase()).filter(Boolean);
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

export async function digestRequest(o: DigestRequestOptions): Promise<DigestResponse> {
  const url = new URL(o.url);
  url.username = url.password = ''; // credentials travel only in Authorization
  const method = (o.method ?? 'GET').toUpperCase();
  const device = o.device ?? url.host;
  const session = o.session ?? new DigestSession();
  const key = `${url.origin} ${o.user ?? ''}`;
  const uri = url.pathname + url.search;
  const headers = Object.fromEntries(Object.entries(o.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  // A probe carries no body at all: its only job is to fetch a challenge.
  const go = (authorization?: string, probe = false) =>
    send({
      ...o,
      url,
      method,
      device,
      body: probe ? undefined : o.body,
      headers: { ...headers, ...(probe ? { 'content-length': '0' } : {}), ...(authorization ? { authorization } : {}) },
    });
  const answer = (entry: { challenge: Challenge; nc: number }) =>
    entry.challenge.scheme === 'basic'
      ? basicAuthorization(o.user ?? '', o.password ?? '')
      : digestAuthorization({ user: o.user ?? '', password: o.password ?? '', method, uri, challenge: entry.challenge, nc: ++entry.nc });
  const learn = (res: DigestResponse) => {
    const challenge = pickChallenge(parseChallenges(([] as string[]).concat(res.headers['www-authenticate'] ?? [])));
    if (!challenge) throw new DeviceError('auth', device, `HTTP 401 with no challenge we can answer (${res.headers['www-authenticate'] ?? 'none'})`);
    return challenge;
  };
  const refused = (why: string) => new DeviceError('auth', device, `credentials refused for ${method} ${url.pathname} (${why})`);

  if (o.user === undefined) {
    const res = await go();
    if (res.status === 401) throw new DeviceError('auth', device, `${url.pathname} needs credentials and none are configured`);
    return res;
  }

  if (o.body !== undefined && !Buffer.isBuffer(o.body)) {
    // A fresh nonce per upload: a cached one may have expired, and the stream cannot be sent twice.
    const probe = await go(undefined, true);
    if (probe.status !== 401) return go();
    const res = await go(answer(session.set(key, learn(probe))));
    if (res.status === 401) throw refused('the device answered 401 to the upload');
    return res;
  }

  let entry = session.get(key);
  let fresh = false;
  for (let tries = 0; ; tries++) {
    const res = await go(entry ? answer(entry) : undefined);
    if (res.status !== 401) return res;
    const challenge = learn(res);
    // A cached nonce may simply have expired; a nonce we just received that is refused
    // without stale=true means the password is wrong.
    if ((fresh && challenge.params.stale?.toLowerCase() !== 'true') || tries >= 3)
      throw refused(`HTTP 401, realm "${challenge.params.realm ?? ''}"`);
    entry = session.set(key, challenge);
    fresh = true;
  }
}

type Attempt = Omit<DigestRequestOptions, 'url' | 'headers'> & { url: URL; method: string; device: string; headers: Record<string, string> };

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/** One HTTP exchange. A streamed body is written as it comes and stops if the device answers with an error. */
function send(a: Attempt): Promise<DigestResponse> {
  return new Promise((resolve, reject) => {
    if (a.signal?.aborted) return reject(abortReason(a.signal));
    const timeoutMs = a.timeoutMs ?? 5000;
    let settled = false;
    let sent = 0;
    let pumping = false;
    let head: http.IncomingMessage | undefined;
    let done: DigestResponse | undefined;
    let grace: NodeJS.Timeout | undefined;
    let closed = false;
    const finish = (err: unknown, res?: DigestResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(grace);
      a.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve({ ...res!, sentBytes: sent });
      if (!pumping) req.destroy();
    };
    const mod = a.url.protocol === 'https:' ? https : http;
    const req = mod.request(a.url, { method: a.method, headers: a.headers, agent: false, rejectUnauthorized: a.rejectUnauthorized ?? false });
    const onAbort = () => (finish(abortReason(a.signal!)), req.destroy());
    a.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('close', () => (closed = true));
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => {
      // Once the device has answered, a failed write only means it stopped reading; the answer says why.
      if (!head) finish(fromSocketError(a.device, e));
    });
    req.on('response', (res) => {
      head = res;
      clearTimeout(grace);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > (a.maxAnswerBytes ?? 16 << 20)) res.destroy(new Error('answer too large'));
        else chunks.push(c);
      });
      res.on('end', () => {
        done = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), sentBytes: 0 };
        // A device may say 200 before the upload ends (Dahua); keep sending until the body is out.
        if (!pumping || done.status >= 300) finish(undefined, done);
      });
      res.on('error', (e) => finish(new DeviceError('protocol', a.device, `answer broke off: ${e.message}`, { cause: e })));
      res.on('close', () => {
        if (!done) finish(new DeviceError('protocol', a.device, 'connection closed before the answer was complete'));
        else if (!pumping) finish(undefined, done);
      });
    });
    const writable = () =>
      new Promise<void>((r) => {
        if (closed) return r();
        const go = () => (req.off('drain', go), req.off('close', go), r());
        req.on('drain', go).on('close', go);
      });
    if (a.body === undefined || Buffer.isBuffer(a.body)) {
      sent = a.body?.length ?? 0;
      req.end(a.body);
      return;
    }
    pumping = true;
    const body = a.body;
    void (async () => {
      const it = body[Symbol.asyncIterator]();
      try {
        for (;;) {
          if (settled || closed || (head?.statusCode ?? 0) >= 300) break;
          const next = await it.next();
          if (next.done || settled || closed) break;
          sent += next.value.length;
          if (!req.write(next.value)) await writable();
        }
      } catch (e) {
        pumping = false;
        return (finish(a.signal?.aborted ? abortReason(a.signal) : e), req.destroy());
      } finally {
        void it.return?.();
      }
      pumping = false;
      if (settled) return req.destroy();
      if (done) return finish(undefined, done);
      if (closed || (head?.statusCode ?? 0) >= 300) return; // the error or the answer's end settles it
      req.end();
      if (!head && a.answerGraceMs !== undefined)
        grace = setTimeout(() => finish(undefined, { status: 0, headers: {}, body: Buffer.alloc(0), sentBytes: 0 }), a.answerGraceMs);
    })();
  });
}

/**
 * Yields `data` in chunkMs slices at real-time pace for a device with a tiny jitter buffer.
 * Each slice is due at start + its media time (minus a small lead), so timer lateness never
 * accumulates into drift. Lives here while HTTP uploads are its only users.
 */
export async function* pacedBody(
  data: Buffer,
  bytesPerSecond: number,
  opts: { chunkMs?: number; leadMs?: number; signal?: AbortSignal } = {},
): AsyncGenerator<Buffer> {
  const chunk = Math.max(1, Math.round((bytesPerSecond * (opts.chunkMs ?? 20)) / 1000));
  const lead = opts.leadMs ?? 40;
  const start = performance.now();
  for (let off = 0; off < data.length; off += chunk) {
    const wait = start + (off * 1000) / bytesPerSecond - lead - performance.now();
    if (wait > 1) await sleep(wait, undefined, { signal: opts.signal });
    else opts.signal?.throwIfAborted();
    yield data.subarray(off, off + chunk);
  }
}
