/**
 * A fake Dahua camera taking audio through the CGI API, for tests only: no emulator exists.
 * It follows the HTTP API's "Post Audio" flow (POST /cgi-bin/audio.cgi?action=postAudio&
 * httptype=singlepart&channel=N, Content-Type Audio/G.711A or Audio/G.711Mu, the body is the
 * audio), answers in Dahua's plain text ("OK", "Error\r\n<reason>!"), guards it with Digest
 * (realm "Login to <serial>", with opaque) or, like old firmware, Basic only, and records
 * every audio byte with its arrival time.
 *
 * Busy is not documented by Dahua; this fake answers 503 "Error Device Busy!" while another
 * upload holds the channel, which is what the driver maps to 'busy'.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DigestGate, fixture, recordUpload, type Hit, type Upload } from './hikvision.ts';

export interface FakeDahuaOptions {
  user?: string;
  password?: string;
  /** Audio output channels, numbered from 1. */
  channels?: number;
  /** Content-Types the device decodes; default both G.711 laws. */
  accepts?: string[];
  /** Channels another client is already talking on. */
  heldByOthers?: number[];
  /** Old firmware: Basic only, realm "Device_CGI". */
  basicOnly?: boolean;
  /** The API documents no answer to an upload; true = never answer (default: "OK" at the end). */
  silent?: boolean;
}

export interface FakeDahua {
  port: number;
  url(opts?: { user?: string; password?: string; channel?: number; codec?: string }): string;
  uploads: Upload[];
  hits: Hit[];
  close(): Promise<void>;
}

export async function startFakeDahua(o: FakeDahuaOptions = {}): Promise<FakeDahua> {
  const user = o.user ?? 'admin';
  const password = o.password ?? 'dahua123';
  const accepts = o.accepts ?? ['Audio/G.711A', 'Audio/G.711Mu'];
  const talking = new Set<number>(o.heldByOthers ?? []);
  const opaque = randomBytes(20).toString('hex');
  const gate = new DigestGate({
    user,
    password,
    realm: o.basicOnly ? 'Device_CGI' : 'Login to 8L0ABCDEF1234',
    schemes: o.basicOnly ? ['basic'] : ['digest'],
    format: (p) => `Digest realm="${p.realm}", qop="auth", nonce="${p.nonce}", opaque="${opaque}"`,
  });
  const uploads: Upload[] = [];
  const hits: Hit[] = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://camera');
    const reply = (status: number, body: string, headers: Record<string, string | string[]> = {}) => {
      hits.push({ method: req.method ?? '', path: url.pathname, status, at: performance.now() });
      res.writeHead(status, { 'content-type': 'text/plain;charset=utf-8', ...headers }).end(body);
    };
    const error = (status: number, reason: string, headers = {}) => (
      req.resume(), reply(status, fixture('dahua', 'error.txt', { reason }), headers)
    );

    const verdict = gate.check(req.method ?? '', req.url ?? '', req.headers.authorization);
    if (verdict !== 'ok') return error(401, 'Invalid Authority', { 'www-authenticate': gate.challenges(verdict === 'stale') });
    if (url.pathname !== '/cgi-bin/audio.cgi') return error(404, 'Not Found');
    const q = url.searchParams;
    const channel = Number(q.get('channel'));
    if (q.get('action') !== 'postAudio' || req.method !== 'POST') return error(400, 'Bad Request');
    if (q.get('httptype') !== 'singlepart') return error(501, 'Not Implemented'); // multipart is not faked
    if (!Number.isInteger(channel) || channel < 1 || channel > (o.channels ?? 1)) return error(400, 'Bad Request');
    if (!accepts.includes(req.headers['content-type'] ?? '')) return error(400, 'Bad Request');
    if (talking.has(channel)) return error(503, 'Device Busy');

    talking.add(channel);
    const upload = recordUpload(req);
    uploads.push(upload);
    req.on('close', () => talking.delete(channel));
    req.on('end', () => {
      talking.delete(channel);
      if (!o.silent) reply(200, fixture('dahua', 'ok.txt'));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (u = {}) =>
      `dahua://${encodeURIComponent(u.user ?? user)}:${encodeURIComponent(u.password ?? password)}@127.0.0.1:${port}/?channel=${u.channel ?? 1}` +
      (u.codec ? `&codec=${u.codec}` : ''),
    uploads,
    hits,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}
