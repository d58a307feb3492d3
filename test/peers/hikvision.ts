/**
 * A fake Hikvision camera speaking ISAPI two-way audio, for tests only: no emulator exists.
 * It follows the documented flow (GET channel, PUT open → sessionId, PUT audioData, PUT
 * close), guards everything with HTTP Digest the way the cameras do (401, a Digest
 * challenge, a ResponseStatus body), refuses a channel someone else holds with deviceBusy,
 * and records every audio byte with its arrival time so tests can check pacing.
 *
 * DigestGate is the server half of Digest, written apart from devices/http/digest.ts on
 * purpose: a mistake shared by both halves would otherwise pass unnoticed. The Dahua fake
 * reuses it.
 */
import http from 'node:http';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

export type GateVerdict = 'ok' | 'missing' | 'stale' | 'wrong';

export interface DigestGateOptions {
  user: string;
  password: string;
  realm: string;
  algorithm?: 'MD5' | 'SHA-256';
  /** Which schemes are offered and accepted; Digest only unless told. */
  schemes?: ReadonlyArray<'digest' | 'basic'>;
  /** Nonces older than this are answered with stale=true. */
  nonceTtlMs?: number;
  /** Writes the Digest challenge the way a vendor does. */
  format?: (p: { realm: string; nonce: string; stale: boolean; algorithm: string }) => string;
}

export class DigestGate {
  readonly nonces = new Map<string, { issued: number; nc: number }>();
  readonly o: DigestGateOptions;
  constructor(o: DigestGateOptions) {
    this.o = o;
  }

  /** WWW-Authenticate values for a 401; one header per scheme, as cameras send them. */
  challenges(stale = false): string[] {
    const nonce = randomBytes(16).toString('hex');
    this.nonces.set(nonce, { issued: Date.now(), nc: 0 });
    const algorithm = this.o.algorithm ?? 'MD5';
    const schemes = this.o.schemes ?? ['digest'];
    const format =
      this.o.format ?? ((p) => `Digest realm="${p.realm}", qop="auth", nonce="${p.nonce}", algorithm=${p.algorithm}, stale=${p.stale}`);
    return schemes.map((s) => (s === 'basic' ? `Basic realm="${this.o.realm}"` : format({ realm: this.o.realm, nonce, stale, algorithm })));
  }

  check(method: string, uri: string, authorization: string | undefined): GateVerdict {
    if (!authorization) return 'missing';
    const [scheme, rest = ''] = authorization.split(/ (.*)/s);
    if (scheme.toLowerCase() === 'basic' && this.o.schemes?.includes('basic')) {
      const expected = Buffer.from(`${this.o.user}:${this.o.password}`).toString('base64');
      return rest === expected ? 'ok' : 'wrong';
    }
    if (scheme.toLowerCase() !== 'digest' || !(this.o.schemes ?? ['digest']).includes('digest')) return 'wrong';
    const p: Record<string, string> = {};
    for (const m of rest.matchAll(/([a-z0-9-]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/gi)) p[m[1].toLowerCase()] = m[2] ?? m[3];
    const hash = (this.o.algorithm ?? 'MD5') === 'MD5' ? 'md5' : 'sha256';
    const H = (s: string) => createHash(hash).update(s).digest('hex');
    const state = this.nonces.get(p.nonce);
    if (!state || p.username !== this.o.user || p.realm !== this.o.realm || p.uri !== uri) return 'wrong';
    const ha1 = H(`${this.o.user}:${this.o.realm}:${this.o.password}`);
    const expected = H(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${H(`${method}:${uri}`)}`);
    const given = Buffer.from(p.response ?? '');
    if (p.qop !== 'auth' || given.length !== expected.length || !timingSafeEqual(given, Buffer.from(expected))) return 'wrong';
    const nc = parseInt(p.nc, 16);
    if (!(nc > state.nc)) return 'wrong'; // a replayed or non-counting nc
    state.nc = nc;
    return this.o.nonceTtlMs !== undefined && Date.now() - state.issued > this.o.nonceTtlMs ? 'stale' : 'ok';
  }
}

/** Reads a response template from test/fixtures/<vendor>/ and fills in {{name}}. */
export function fixture(vendor: string, file: string, values: Record<string, string | number> = {}): string {
  const text = readFileSync(new URL(`../fixtures/${vendor}/${file}`, import.meta.url), 'utf8');
  return text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => String(values[k] ?? ''));
}

export interface Upload {
  path: string;
  contentType?: string;
  declaredLength: number;
  chunks: { at: number; data: Buffer }[];
  /** True when the declared body arrived in full; false if the client dropped the connection. */
  complete: boolean;
  endedAt?: number;
  data(): Buffer;
}

export function recordUpload(req: http.IncomingMessage): Upload {
  const upload: Upload = {
    path: req.url ?? '',
    contentType: req.headers['content-type'],
    declaredLength: Number(req.headers['content-length'] ?? -1),
    chunks: [],
    complete: false,
    data: () => Buffer.concat(upload.chunks.map((c) => c.data)),
  };
  req.on('data', (data: Buffer) => upload.chunks.push({ at: performance.now(), data }));
  req.on('end', () => ((upload.complete = true), (upload.endedAt = performance.now())));
  req.on('close', () => (upload.endedAt ??= performance.now()));
  return upload;
}

export interface Hit {
  method: string;
  path: string;
  status: number;
  at: number;
}

export interface FakeHikvisionOptions {
  user?: string;
  password?: string;
  /** Channel id → audioCompressionType; default { 1: 'G.711ulaw' }. */
  channels?: Record<number, string>;
  /** Channels another client already holds open: open answers deviceBusy. */
  heldByOthers?: number[];
  algorithm?: 'MD5' | 'SHA-256';
  /** Some firmware never answers the audioData PUT; default false (answers when the body ends). */
  silentAudioData?: boolean;
}

export interface FakeHikvision {
  port: number;
  url(opts?: { user?: string; password?: string; channel?: number }): string;
  uploads: Upload[];
  hits: Hit[];
  isOpen(channel: number): boolean;
  close(): Promise<void>;
}

export async function startFakeHikvision(o: FakeHikvisionOptions = {}): Promise<FakeHikvision> {
  const user = o.user ?? 'admin';
  const password = o.password ?? 'hik12345';
  const channels = o.channels ?? { 1: 'G.711ulaw' };
  const sessions = new Map<number, string>((o.heldByOthers ?? []).map((c) => [c, 'another-client']));
  const gate = new DigestGate({
    user,
    password,
    realm: 'IP Camera(K2195)',
    algorithm: o.algorithm,
    // Cameras quote stale and write it in capitals.
    format: (p) =>
      `Digest qop="auth", realm="${p.realm}", nonce="${p.nonce}", stale="${p.stale ? 'TRUE' : 'FALSE'}"` +
      (p.algorithm === 'MD5' ? '' : `, algorithm=${p.algorithm}`),
  });
  const uploads: Upload[] = [];
  const hits: Hit[] = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://camera');
    const reply = (status: number, body: string, headers: Record<string, string | string[]> = {}) => {
      hits.push({ method: req.method ?? '', path: url.pathname, status, at: performance.now() });
      res.writeHead(status, { 'content-type': 'application/xml; charset="UTF-8"', ...headers }).end(body);
    };
    const status = (code: number, statusCode: number, statusString: string, subStatusCode: string, extra = {}) =>
      reply(code, fixture('hikvision', 'ResponseStatus.xml', { requestURL: url.pathname, statusCode, statusString, subStatusCode }), extra);

    const verdict = gate.check(req.method ?? '', req.url ?? '', req.headers.authorization);
    if (verdict !== 'ok') {
      req.resume();
      return status(401, 4, 'Invalid Operation', 'badAuthorization', { 'www-authenticate': gate.challenges(verdict === 'stale') });
    }
    const m = /^\/ISAPI\/System\/TwoWayAudio\/channels\/(\d+)(?:\/(open|close|audioData))?$/.exec(url.pathname);
    if (!m) return status(404, 4, 'Invalid Operation', 'notSupport');
    const id = Number(m[1]);
    const action = m[2] ?? '';
    if (!(id in channels)) return status(404, 4, 'Invalid Operation', 'invalidOperation');
    const route = `${req.method} ${action}`;

    if (route === 'GET ') {
      const enabled = sessions.has(id);
      return reply(
        200,
        fixture('hikvision', 'TwoWayAudioChannel.xml', { id, enabled: String(enabled), audioCompressionType: channels[id] }),
      );
    }
    if (route === 'PUT open') {
      req.resume();
      if (sessions.has(id)) return status(403, 2, 'Device Busy', 'deviceBusy');
      const sessionId = String(randomBytes(4).readUInt32BE());
      sessions.set(id, sessionId);
      return reply(200, fixture('hikvision', 'TwoWayAudioSession.xml', { sessionId }));
    }
    if (route === 'PUT close') {
      req.resume();
      // Closing an idle channel is fine on real cameras too (go2rtc PR #967 relies on it).
      sessions.delete(id);
      return status(200, 1, 'OK', 'ok');
    }
    if (route === 'PUT audioData') {
      const held = sessions.get(id);
      const asked = url.searchParams.get('sessionId');
      if (!held) return (req.resume(), status(403, 4, 'Invalid Operation', 'invalidOperation'));
      if (asked !== null && asked !== held) return (req.resume(), status(400, 6, 'Invalid XML Content', 'badParameters'));
      const upload = recordUpload(req);
      uploads.push(upload);
      req.on('end', () => {
        if (!o.silentAudioData) status(200, 1, 'OK', 'ok');
      });
      return;
    }
    req.resume();
    return status(405, 4, 'Invalid Operation', 'methodNotAllowed');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (u = {}) =>
      `isapi://${encodeURIComponent(u.user ?? user)}:${encodeURIComponent(u.password ?? password)}@127.0.0.1:${port}/?channel=${u.channel ?? 1}`,
    uploads,
    hits,
    isOpen: (channel) => sessions.has(channel),
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}
