/**
 * The gateway's small HTTP API (node:http):
 *
 *   GET /evidence/{event}.jpg   the evidence picture, bystanders blurred (token, or the picture's own link token)
 *   GET /evidence/{event}.tar   the event's signed evidence archive (token; ?unredacted=1&by=&reason= is audited)
 *   GET /events/{event}         an event with its transitions and dispatches (token)
 *   GET /events?after_seq=N     events after sequence number N, to fill gaps (token)
 *   GET /stats                  the statistics (token; ?since=&until= ISO times)
 *   GET /health                 MQTT connection and version (no token)
 *   /console/...                the staff console, when mounted (gateway/console/: own login)
 *
 * The token comes as "Authorization: Bearer TOKEN" or "?token=TOKEN".
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { Logger } from '../log.ts';
import type { EventsRepo } from '../store/events.ts';
import type { DispatchesRepo } from '../store/dispatches.ts';
import type { EventRecord } from '../core/event.ts';
import type { UplinkStatus } from '../uplink/uplink.ts';
import { ULID_PATTERN } from '../api/schema/common.ts';
import { pictureToken, pictureTokenValid, sameSecret } from './tokens.ts';

export interface HttpApiOptions {
  host: string;
  port: number;
  token: string;
  publicUrl?: string;
  log: Logger;
  events: EventsRepo;
  dispatches: DispatchesRepo;
  stats: (since: number | null, until: number | null) => unknown;
  /** An event as the MQTT event message shows it (with its evidence link). */
  eventJson: (e: EventRecord) => Record<string, unknown>;
  /** A stored transition as the MQTT transition message shows it. */
  transitionJson: (
    e: EventRecord,
    t: { from: EventRecord['state'] | null; to: EventRecord['state']; at: number; data: Record<string, unknown> },
  ) => Record<string, unknown>;
  /** `problems`: box-wide conditions (disk full, clock step); any of them, or no broker, is "degraded". */
  health: () => { version: string; mqtt: UplinkStatus; problems?: { kind: string; since: string; message: string }[] };
  /** The evidence part: blurred pictures and signed archives (gateway/evidence). */
  evidence?: {
    publicPicture(eventId: string): Promise<{ path: string; sha256: string } | null>;
    archive(eventId: string, r: { unredacted: boolean; via: 'http'; actor?: string; reason?: string; target?: string }): Buffer;
  };
}

const ULID = new RegExp(ULID_PATTERN.slice(1, -1));
const EVIDENCE = new RegExp(`^/evidence/(${ULID.source})\\.jpg$`);
const EVENT = new RegExp(`^/events/(${ULID.source})$`);
const ARCHIVE = new RegExp(`^/evidence/(${ULID.source})\\.tar$`);

export class HttpApi {
  private server: Server | null = null;
  private readonly o: HttpApiOptions;
  private readonly mounts: ((req: IncomingMessage, res: ServerResponse, url: URL) => boolean)[] = [];
  /** Base URL for links, known once listening. */
  base = '';

  constructor(o: HttpApiOptions) {
    this.o = o;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    // Longer than clients' idle pools (undici, nginx: 60 s), so a reused connection is not
    // closed under a request in flight (ECONNRESET).
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    await new Promise<void>((ok, fail) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        fail(
          new Error(
            e.code === 'EADDRINUSE'
              ? `HTTP API: ${this.o.host}:${this.o.port} is already in use (set http.port)`
              : `HTTP API: ${e.message}`,
          ),
        ),
      );
      server.listen(this.o.port, this.o.host, () => ok());
    });
    this.server = server;
    const port = (server.address() as { port: number }).port;
    this.base = (this.o.publicUrl ?? `http://${linkHost(this.o.host)}:${port}`).replace(/\/+$/, '');
    this.o.log.info({ url: this.base }, 'HTTP API listening');
  }

  /** Another part's routes (the console), tried first; a handler returns true when the request was its. */
  mount(handler: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean): void {
    this.mounts.push(handler);
  }

  /** The published link to an event's picture, with a token that opens only that picture. */
  evidenceUrl(eventId: string): string | null {
    return this.base ? `${this.base}/evidence/${eventId}.jpg?token=${pictureToken(this.o.token, eventId)}` : null;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
        'cache-control': 'no-store',
        ...headers,
      });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    for (const m of this.mounts) if (m(req, res, url)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: 'only GET and HEAD' }, { allow: 'GET, HEAD' });
    const given = (req.headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1] ?? url.searchParams.get('token') ?? '').trim();
    const master = given !== '' && sameSecret(given, this.o.token);
    const denied = () =>
      send(
        given ? 403 : 401,
        { error: given ? 'wrong token' : 'token required: Authorization: Bearer TOKEN, or ?token=TOKEN' },
        given ? {} : { 'www-authenticate': 'Bearer' },
      );
    try {
      if (url.pathname === '/health') {
        const h = this.o.health();
        return send(200, { status: h.mqtt.connected && !h.problems?.length ? 'ok' : 'degraded', ...h });
      }
      const ev = EVIDENCE.exec(url.pathname);
      if (ev) {
        if (!master && !(given && pictureTokenValid(this.o.token, ev[1], given))) return denied();
        return void this.picture(ev[1], req, res, send).catch((e: Error) => {
          this.o.log.error({ path: url.pathname, err: e }, 'HTTP request failed');
          if (!res.headersSent) send(500, { error: 'internal error' });
        });
      }
      if (!master)
        return EVENT.test(url.pathname) || ARCHIVE.test(url.pathname) || ['/stats', '/events'].includes(url.pathname)
          ? denied()
          : send(404, { error: 'not found' });
      const ar = ARCHIVE.exec(url.pathname);
      if (ar && this.o.evidence) return this.archive(ar[1], url, req, res, send);
      const m = EVENT.exec(url.pathname);
      if (m) {
        const e = this.o.events.get(m[1]);
        if (!e) return send(404, { error: `no event ${m[1]}` });
        return send(200, {
          ...this.summary(e),
          transitions: this.o.events.transitions(e.id).map((t) => this.o.transitionJson(e, t)),
          dispatches: this.o.dispatches.forEvent(e.id).map((d) => ({
            dispatch_id: d.id,
            officer_id: d.officerId,
            state: d.state,
            reason: d.reason,
            tier: d.tier,
            town: d.town,
            attempt: d.attempt,
            distance_m: Math.round(d.distanceM),
            offered_at: iso(d.createdAt),
            accepted_at: iso(d.acceptedAt),
            arrived_at: iso(d.arrivedAt),
            closed_at: iso(d.closedAt),
            deadline: iso(d.deadlineAt),
          })),
        });
      }
      if (url.pathname === '/events') {
        const after = Number(url.searchParams.get('after_seq') ?? 0);
        const limit = Math.min(1000, Number(url.searchParams.get('limit') ?? 100));
        if (!Number.isInteger(after) || after < 0 || !Number.isInteger(limit) || limit < 1)
          return send(400, { error: 'after_seq and limit are whole numbers' });
        return send(200, { events: this.o.events.afterSeq(after, limit).map((e) => this.summary(e)) });
      }
      if (url.pathname === '/stats') {
        const t = (k: string) => (url.searchParams.get(k) ? Date.parse(url.searchParams.get(k)!) : null);
        const [since, until] = [t('since'), t('until')];
        if (Number.isNaN(since) || Number.isNaN(until)) return send(400, { error: 'since and until are ISO 8601 times' });
        return send(200, this.o.stats(since, until));
      }
      return send(404, { error: 'not found' });
    } catch (e) {
      this.o.log.error({ path: url.pathname, err: e }, 'HTTP request failed');
      if (!res.headersSent) send(500, { error: 'internal error' });
    }
  }

  private summary(e: EventRecord) {
    const { msg_id: _m, ...event } = this.o.eventJson(e);
    return { event, state: e.state, reason: e.reason, officer_id: e.officerId, updated_at: iso(e.updatedAt), closed_at: iso(e.closedAt) };
  }

  private async picture(
    id: string,
    req: IncomingMessage,
    res: ServerResponse,
    send: (s: number, b: unknown, h?: Record<string, string>) => void,
  ): Promise<void> {
    const e = this.o.events.get(id);
    if (!e?.evidencePath || !e.evidenceSha256) return send(404, { error: e ? 'this event has no picture' : `no event ${id}` });
    // With the evidence part, only the copy with bystanders blurred leaves the box.
    const pic = this.o.evidence ? await this.o.evidence.publicPicture(id) : { path: e.evidencePath, sha256: e.evidenceSha256 };
    if (!pic) return send(503, { error: 'the picture is being prepared (bystanders blurred); try again shortly' }, { 'retry-after': '2' });
    let size: number;
    try {
      size = statSync(pic.path).size;
    } catch {
      return send(410, { error: 'the picture is no longer on this gateway' });
    }
    const etag = `"${pic.sha256}"`;
    const headers = {
      'content-type': 'image/jpeg',
      etag,
      'x-evidence-sha256': pic.sha256,
      'cache-control': 'private, max-age=31536000, immutable',
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers);
      return void res.end();
    }
    res.writeHead(200, { ...headers, 'content-length': String(size) });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(pic.path)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  private archive(
    id: string,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
    send: (s: number, b: unknown, h?: Record<string, string>) => void,
  ): void {
    const unredacted = url.searchParams.get('unredacted') === '1';
    let tar: Buffer;
    try {
      tar = this.o.evidence!.archive(id, {
        unredacted,
        via: 'http',
        actor: url.searchParams.get('by') ?? undefined,
        reason: url.searchParams.get('reason') ?? undefined,
        target: String(req.socket.remoteAddress ?? ''),
      });
    } catch (e) {
      const msg = (e as Error).message;
      return send(msg.startsWith('no event') ? 404 : msg.includes('not sealed') ? 409 : 400, { error: msg });
    }
    res.writeHead(200, {
      'content-type': 'application/x-tar',
      'content-length': String(tar.length),
      'content-disposition': `attachment; filename="evidence-${id}${unredacted ? '-unredacted' : ''}.tar"`,
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : tar);
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((ok) => s.close(() => ok()));
  }
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** A host name others can reach us at: the listen address, or the first LAN address. */
function linkHost(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host.includes(':') ? `[${host}]` : host;
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}
