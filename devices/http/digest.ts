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
import { DeviceError, fromSocketError } from '../errors.ts';
import { basicAuthorization, digestAuthorization, parseChallenges, pickChallenge, type Challenge } from './challenge.ts';

// Kept importable from here: the challenge arithmetic moved to challenge.ts, pacedBody to util/pace.ts.
export { basicAuthorization, digestAuthorization, parseChallenges, pickChallenge, type Challenge } from './challenge.ts';
export { pacedBody } from '../util/pace.ts';

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

/** Per-device memory of the last challenge, so nc counts on and round trips are saved. */
export class DigestSession {
  readonly #entries = new Map<string, { challenge: Challenge; nc: number }>();
  get = (key: string) => this.#entries.get(key);
  set = (key: string, challenge: Challenge) => (this.#entries.set(key, { challenge, nc: 0 }), this.#entries.get(key)!);
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
    if (!challenge)
      throw new DeviceError('auth', device, `HTTP 401 with no challenge we can answer (${res.headers['www-authenticate'] ?? 'none'})`);
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

type Attempt = Omit<DigestRequestOptions, 'url' | 'headers'> & {
  url: URL;
  method: string;
  device: string;
  headers: Record<string, string>;
};

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
    const req = mod.request(a.url, {
      method: a.method,
      headers: a.headers,
      agent: false,
      rejectUnauthorized: a.rejectUnauthorized ?? false,
    });
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
