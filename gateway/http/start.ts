/** Starts the HTTP API from the settings; a port in use is logged and the gateway runs on without it. */
import { join } from 'node:path';
import type { Context } from '../context.ts';
import type { EventsRepo } from '../store/events.ts';
import { DispatchesRepo } from '../store/dispatches.ts';
import type { StatsPublisher } from '../stats/publisher.ts';
import { eventPayload, transitionPayload, type CameraInfo } from '../api/payloads.ts';
import type { EventRecord } from '../core/event.ts';
import { HttpApi, type HttpApiOptions } from './server.ts';
import { loadToken } from './tokens.ts';

export async function startHttpApi(o: {
  ctx: Context;
  repo: EventsRepo;
  stats: StatsPublisher;
  cameras: Map<string, CameraInfo>;
  zoneName: (e: EventRecord) => string;
  evidence?: HttpApiOptions['evidence'];
}): Promise<HttpApi | null> {
  const { ctx } = o;
  const s = ctx.config.settings;
  if (!s.http.enabled) return null;
  const file = join(ctx.dataDir, 'http-token');
  const { token, generated } = loadToken(s.http.token, file);
  if (generated) ctx.log.info({ file }, 'HTTP API token generated');
  const gw = s.gateway.id;
  const api: HttpApi = new HttpApi({
    host: s.http.host,
    port: s.http.port,
    token,
    publicUrl: s.http.public_url,
    log: ctx.log,
    events: o.repo,
    dispatches: new DispatchesRepo(ctx.db),
    stats: (since, until) => o.stats.compute({ since, until }),
    eventJson: (e) => {
      const cam = o.cameras.get(e.camera) ?? { id: e.camera, name: e.camera, location: { lat: 0, lon: 0 } };
      return eventPayload(gw, { ...e, state: 'confirmed' }, cam, o.zoneName(e), api.evidenceUrl(e.id));
    },
    transitionJson: (e, t) => {
      const { reason = null, officer_id = null, ...note } = t.data as { reason?: string | null; officer_id?: string | null };
      const { msg_id: _m, ...rest } = transitionPayload(gw, { ...e, state: t.to, reason, officerId: officer_id }, t.from, t.at, note);
      return rest;
    },
    health: () => ({
      version: ctx.version,
      mqtt: ctx.uplink.status(),
      problems: ctx.faults.list().map((f) => ({ kind: f.kind, since: new Date(f.since).toISOString(), message: f.message })),
    }),
    evidence: o.evidence,
  });
  try {
    await api.start();
    return api;
  } catch (e) {
    ctx.log.error({ err: e }, 'HTTP API not started; events carry no evidence links');
    return null;
  }
}
