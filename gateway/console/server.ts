/**
 * The console's HTTP side, mounted on the gateway's HTTP server under /console/:
 * the page and its local assets, the JSON API under /console/api/, and the live stream.
 *
 * Who may do what: viewers read; operators also resolve or cancel events and test
 * speakers; admins also save zones and read the audit log. Every write, and every
 * refused one, is audited. Writes are CSRF-safe three ways: the session cookie is
 * SameSite=Strict, a write must be JSON (a cross-site form cannot send that), carry the
 * session's CSRF token in a header, and come from this origin when the browser says.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Context } from '../context.ts';
import { AuditRepo } from '../store/audit.ts';
import type { Sessions } from './sessions.ts';
import { allows, type Role } from './users.ts';
import { serveAsset } from './static.ts';
import { readApi, type ConsoleDeps } from './api.ts';
import { writeApi } from './writes.ts';

export type { ConsoleDeps } from './api.ts';
export { HttpError, json, type Request } from './http.ts';
import { HttpError, json, type Request } from './http.ts';

const COOKIE = 'console_session';

export class Console {
  readonly sessions: Sessions;
  readonly audit: AuditRepo;
  private readonly d: ConsoleDeps;
  private readonly ctx: Context;

  constructor(d: ConsoleDeps, sessions: Sessions) {
    this.d = d;
    this.ctx = d.ctx;
    this.sessions = sessions;
    this.audit = new AuditRepo(d.ctx.db);
  }

  /** For the gateway's HTTP server: true when the request was the console's. */
  handle = (req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    if (url.pathname === '/' || url.pathname === '/console') {
      res.writeHead(302, { location: '/console/' });
      res.end();
      return true;
    }
    if (!url.pathname.startsWith('/console/')) return false;
    if (!url.pathname.startsWith('/console/api/')) {
      try {
        serveAsset(url.pathname, req, res);
      } catch (e) {
        this.ctx.log.error({ err: e, path: url.pathname }, 'console asset failed');
        if (!res.headersSent) json(res, 500, { error: 'internal error' });
      }
      return true;
    }
    void this.api(req, res, url).catch((e: unknown) => {
      this.ctx.log.error({ err: e, path: url.pathname }, 'console request failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.end();
    });
    return true;
  };

  private async api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.slice('/console/api'.length);
    const method = req.method ?? 'GET';
    const session = this.sessions.get(cookie(req, COOKIE));
    const r: Request = { method, path, url, req, res, session, body: null };
    try {
      if (method === 'POST') {
        r.body = await readJson(req);
        this.sameOrigin(req);
        if (path === '/login') return this.login(r);
        if (!session) throw new HttpError(401, 'log in first');
        const given = String(req.headers['x-csrf-token'] ?? '');
        if (!given || !equal(given, session.csrf)) {
          this.audit.add(entry(r, 'csrf', path, 'refused', { why: 'missing or wrong CSRF token' }));
          throw new HttpError(403, 'missing or wrong CSRF token: reload the page');
        }
        if (path === '/logout') {
          this.sessions.logout(session.id);
          this.audit.add(entry(r, 'logout', null, 'ok', {}));
          return json(res, 200, { ok: true }, { 'set-cookie': `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0` });
        }
        return await writeApi(r, this.d, {
          need: (role: Role, action: string, target: string | null) => this.need(r, role, action, target),
          audit: (action, target, outcome, detail) => this.audit.add(entry(r, action, target, outcome, detail)),
        });
      }
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'only GET and POST');
      if (path === '/me') {
        if (!session) throw new HttpError(401, 'log in first');
        return json(res, 200, { user: session.user, role: session.role, csrf: session.csrf, gateway: this.gatewayInfo() });
      }
      if (!session) throw new HttpError(401, 'log in first');
      if (path === '/audit') {
        if (!allows(session.role, 'admin')) throw new HttpError(403, 'the audit log is for admins');
        return json(res, 200, { entries: this.audit.recent(Number(url.searchParams.get('limit') ?? 200)) });
      }
      return await readApi(r, this.d);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      json(res, e.status, { error: e.message, ...(e.details ? { issues: e.details } : {}) });
    }
  }

  private gatewayInfo() {
    const s = this.ctx.config.settings;
    return { id: s.gateway.id, name: s.gateway.name ?? s.gateway.id, version: this.ctx.version, tile_url: s.console.tile_url ?? null };
  }

  private login(r: Request): void {
    const b = (r.body ?? {}) as { user?: unknown; password?: unknown };
    if (typeof b.user !== 'string' || typeof b.password !== 'string') throw new HttpError(400, 'user and password are required');
    const got = this.sessions.login(b.user, b.password);
    if (!got.ok) {
      this.audit.add({ ...entry(r, 'login', null, 'refused', { why: got.why }), user: b.user.slice(0, 64), role: null });
      if (got.why === 'locked')
        throw new HttpError(429, `too many wrong passwords: locked out, try again in ${got.retryAfterS} s`, undefined);
      throw new HttpError(401, 'wrong user name or password');
    }
    const s = got.session;
    this.audit.add({ ...entry(r, 'login', null, 'ok', {}), user: s.user, role: s.role });
    json(
      r.res,
      200,
      { user: s.user, role: s.role, csrf: s.csrf, gateway: this.gatewayInfo() },
      { 'set-cookie': `${COOKIE}=${s.id}; Path=/; HttpOnly; SameSite=Strict` },
    );
  }

  private need(r: Request, role: Role, action: string, target: string | null): void {
    if (allows(r.session!.role, role)) return;
    this.audit.add(entry(r, action, target, 'refused', { why: `needs ${role}` }));
    throw new HttpError(403, `${r.session!.role} may not do this (needs ${role})`);
  }

  /** A browser names the page's origin on every POST; it must be this server. */
  private sameOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      host = '';
    }
    if (host !== req.headers.host) throw new HttpError(403, `cross-site request refused (Origin ${origin})`);
  }
}

function entry(r: Request, action: string, target: string | null, outcome: 'ok' | 'refused' | 'failed', detail: Record<string, unknown>) {
  return {
    at: Date.now(),
    user: r.session?.user ?? '-',
    role: r.session?.role ?? null,
    action,
    target,
    outcome,
    detail,
    address: r.req.socket.remoteAddress ?? null,
  };
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
    throw new HttpError(415, 'writes are JSON (content-type: application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 1_000_000) throw new HttpError(413, 'request too large');
    chunks.push(c as Buffer);
  }
  if (!size) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
}
