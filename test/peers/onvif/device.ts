/**
 * A fake ONVIF Profile S camera (no real one can be installed in CI): a node:http SOAP
 * server answering from the templates in test/fixtures/onvif/, Hikvision-shaped, with
 * the parts that break real integrations made switchable: which authentication it
 * accepts, its clock, and what it does with a WS-Security header it does not support.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkUsernameToken, DigestAuth, type WsseResult } from './auth.ts';
import { DiscoveryResponder, type ResponderOptions } from './discovery.ts';
import { answer, answerMedia2, DEFAULT_PROFILES, type FakeProfile } from './responses.ts';
import { envelope, fault, FIXTURES, kid, parse, type FaultSpec, type Node } from './soap.ts';

export { DEFAULT_PROFILES, type FakeProfile };

export interface FakeOnvifOptions {
  user?: string;
  password?: string;
  /** What the device accepts. 'digest': a SOAP stack without WS-Security. Default 'both'. */
  auth?: 'both' | 'ws-security' | 'digest' | 'none';
  /** Device clock = now + skew. */
  clockSkewSec?: number;
  /** How far Created may be from the device clock. Default 5 s. */
  toleranceSec?: number;
  manufacturer?: string;
  model?: string;
  firmware?: string;
  serial?: string;
  hardwareId?: string;
  hostname?: string;
  profiles?: FakeProfile[];
  /** Also offer the Media2 service (Profile T), where H.265 is reported truthfully. */
  media2?: boolean;
  /** false: GetSnapshotUri answers with an empty URI, as cameras without snapshots do. */
  snapshot?: boolean;
  host?: string;
  port?: number;
  endpoint?: string;
  /** Start a WS-Discovery responder; options as for DiscoveryResponder. */
  discovery?: boolean | Partial<Pick<ResponderOptions, 'interfaces' | 'dropProbes' | 'maxDelayMs' | 'port'>>;
}

const DEVICE_OPS = new Set(['GetSystemDateAndTime', 'GetCapabilities', 'GetServices', 'GetDeviceInformation', 'GetHostname', 'GetScopes']);
const MEDIA_OPS = new Set(['GetProfiles', 'GetProfile', 'GetStreamUri', 'GetSnapshotUri', 'GetVideoEncoderConfiguration']);
const MEDIA2_OPS = new Set(['GetProfiles', 'GetStreamUri', 'GetSnapshotUri']);
const PRE_AUTH = new Set(['GetSystemDateAndTime']);

export interface RequestLog {
  action: string;
  wsse: WsseResult;
  digest: string;
  status: number;
}

export class FakeOnvifDevice {
  readonly o: Required<Omit<FakeOnvifOptions, 'discovery' | 'port'>> & Pick<FakeOnvifOptions, 'discovery' | 'port'>;
  readonly digest: DigestAuth;
  readonly log: RequestLog[] = [];
  responder?: DiscoveryResponder;
  private server?: http.Server;
  private readonly seen = new Map<string, number>();

  constructor(opts: FakeOnvifOptions = {}) {
    this.o = {
      user: 'admin',
      password: 'Passw0rd!',
      auth: 'both',
      clockSkewSec: 0,
      toleranceSec: 5,
      manufacturer: 'HIKVISION',
      model: 'DS-2CD2043G0-I',
      firmware: 'V5.5.80 build 190528',
      serial: 'DS-2CD2043G0-I20190601AACHD12345678',
      hardwareId: '88',
      hostname: 'IPC',
      profiles: DEFAULT_PROFILES,
      media2: false,
      snapshot: true,
      host: '127.0.0.1',
      endpoint: `urn:uuid:${randomUUID()}`,
      ...opts,
    };
    this.digest = new DigestAuth(`IP Camera(${this.o.serial.slice(-5)})`, this.o.user, this.o.password);
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }
  get base(): string {
    return `http://${this.o.host}:${this.port}`;
  }
  /** The device service URL, as WS-Discovery advertises it. */
  get url(): string {
    return `${this.base}/onvif/device_service`;
  }
  get scopes(): string[] {
    const enc = (s: string) => encodeURIComponent(s);
    return [
      'onvif://www.onvif.org/type/video_encoder',
      'onvif://www.onvif.org/Profile/Streaming',
      `onvif://www.onvif.org/hardware/${enc(this.o.model)}`,
      `onvif://www.onvif.org/name/${enc(`${this.o.manufacturer} ${this.o.model}`)}`,
      'onvif://www.onvif.org/location/city/jiangshan',
    ];
  }
  streamUri(p: FakeProfile, i: number): string {
    return p.streamUri ?? `rtsp://${this.o.host}:554/Streaming/Channels/10${i + 1}?transportmode=unicast&profile=${p.token}`;
  }
  snapshotUri(p: FakeProfile): string {
    if (!this.o.snapshot) return '';
    return `${this.base}/onvif-http/snapshot?${p.token}`;
  }

  async start(): Promise<this> {
    // A client that gives up mid-request (our timeout tests) must not become an unhandled rejection.
    this.server = http.createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.o.port ?? 0, this.o.host, () => resolve());
    });
    if (this.o.discovery) {
      const d = this.o.discovery === true ? {} : this.o.discovery;
      this.responder = new DiscoveryResponder({ endpoint: this.o.endpoint, xaddrs: () => [this.url], scopes: this.scopes, ...d });
      await this.responder.start();
    }
    return this;
  }

  async stop(): Promise<void> {
    await this.responder?.stop();
    const s = this.server;
    this.server = undefined;
    s?.closeAllConnections();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private send(
    res: http.ServerResponse,
    status: number,
    body: string | Buffer,
    type = 'application/soap+xml; charset=utf-8',
    extra: Record<string, string> = {},
  ): void {
    // Explicit Content-Length, spelled so: libonvif looks for exactly "Content-Length: ".
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)), Server: 'App-webs/', ...extra });
    res.end(body);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = req.url ?? '/';
    if (req.method === 'GET' && url.startsWith('/onvif-http/snapshot')) return this.snapshot(req, res, url);
    if (req.method !== 'POST') return this.send(res, 405, '', 'text/plain');

    let env: Node;
    try {
      env = await parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return this.send(res, 400, fault({ code: 'Sender', subcodes: ['ter:WellFormed'], reason: 'Well-formed Error' }));
    }
    const op = kid(env, 'Body')?.children[0];
    const action = op?.name ?? '';
    const entry = { action, wsse: 'absent' as WsseResult, digest: 'absent', status: 200 };
    this.log.push(entry);
    const reply = (status: number, xml: string, extra?: Record<string, string>) => {
      entry.status = status;
      this.send(res, status, xml, undefined, extra);
    };
    const path = url.split('?')[0];
    const media2 = this.o.media2 && path === '/onvif/Media2';
    const known = path === '/onvif/device_service' ? DEVICE_OPS : path === '/onvif/Media' ? MEDIA_OPS : media2 ? MEDIA2_OPS : undefined;
    if (!known?.has(action))
      return reply(500, fault({ code: 'Receiver', subcodes: ['ter:ActionNotSupported'], reason: 'Action Not Implemented' }));

    if (!PRE_AUTH.has(action) && this.o.auth !== 'none') {
      const a = this.o.auth;
      entry.wsse = checkUsernameToken(kid(env, 'Header'), {
        user: this.o.user,
        password: this.o.password,
        now: Date.now() + this.o.clockSkewSec * 1000,
        toleranceMs: this.o.toleranceSec * 1000,
        seen: this.seen,
      });
      entry.digest = this.digest.verify(req.method!, url, req.headers.authorization);
      const wsseOk = (a === 'both' || a === 'ws-security') && entry.wsse === 'ok';
      const digestOk = (a === 'both' || a === 'digest') && entry.digest === 'ok';
      // The web server checks HTTP auth before the SOAP stack sees the envelope.
      if (!wsseOk && !digestOk && a !== 'ws-security')
        return reply(401, fault({ code: 'Sender', subcodes: ['ter:NotAuthorized'], reason: 'Sender not Authorized' }), {
          'WWW-Authenticate': this.digest.challenge(entry.digest === 'stale-nonce'),
        });
      // A gSOAP stack without the WS-Security plugin faults on a mustUnderstand header.
      if (a === 'digest' && entry.wsse !== 'absent')
        return reply(
          500,
          fault({ code: 'MustUnderstand', reason: 'The data in element Security must be understood but cannot be processed' }),
        );
      if (!wsseOk && !digestOk)
        return reply(
          400,
          fault({
            code: 'Sender',
            subcodes: ['ter:NotAuthorized'],
            reason: 'Sender not Authorized',
            detail: 'The action requested requires authorization and the sender is not authorized',
          }),
        );
    }

    try {
      reply(200, envelope(media2 ? answerMedia2(this, action, op!) : answer(this, action, op!)));
    } catch (e) {
      const f = e as FaultSpec;
      reply(f.code === 'Receiver' ? 500 : 400, fault(f));
    }
  }

  /** Hikvision serves /onvif-http/snapshot?Profile_N as JPEG behind HTTP Digest, whatever the SOAP auth. */
  private snapshot(req: http.IncomingMessage, res: http.ServerResponse, url: string): void {
    const r = this.digest.verify('GET', url, req.headers.authorization);
    if (r !== 'ok')
      return this.send(res, 401, 'Unauthorized', 'text/plain', { 'WWW-Authenticate': this.digest.challenge(r === 'stale-nonce') });
    this.send(res, 200, readFileSync(`${FIXTURES}snapshot.jpg`), 'image/jpeg');
  }
}
