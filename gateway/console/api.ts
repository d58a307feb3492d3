/** The console's read-only API: cameras, events, speakers, officers, statistics, the live stream. */
import { createReadStream, existsSync } from 'node:fs';
import type { Context } from '../context.ts';
import type { EventsRepo } from '../store/events.ts';
import type { DispatchesRepo } from '../store/dispatches.ts';
import type { Roster } from '../dispatch/roster.ts';
import type { SpeakerHealth } from '../alert/health.ts';
import type { CameraHealth } from '../capture/health.ts';
import type { CommandActions } from '../commands/handler.ts';
import type { StatsMessage } from '../api/schema/stats.ts';
import type { AudioCache } from '../alert/audio.ts';
import type { EventRecord } from '../events/types.ts';
import type { EvidenceRepo } from '../store/evidence.ts';
import { CATALOGUE, VIOLATION_TYPES } from '../rules/catalogue.ts';
import { EVENT_STATES } from '../events/types.ts';
import type { LatestFrames } from './live.ts';
import { openStream } from './live.ts';
import { warningWav } from './audio.ts';
import { breakdown } from './stats.ts';
import { HttpError, json, type Request } from './http.ts';

export interface ConsoleDeps {
  ctx: Context;
  repo: EventsRepo;
  dispatches: DispatchesRepo;
  roster: Roster;
  speakerHealth: () => SpeakerHealth[];
  cameraHealth: () => CameraHealth[];
  latest: LatestFrames;
  stats: (since: number | null, until: number | null) => StatsMessage;
  /** The evidence sets: the warnings' audio as played. */
  evidence: Pick<EvidenceRepo, 'items'>;
  /** The warner's audio cache (made on first use: choosing the speech engine takes a moment). */
  audio: () => Promise<AudioCache>;
  /** The very actions the MQTT commands run. */
  actions: Pick<CommandActions, 'resolve' | 'cancel' | 'test_speaker' | 'reload_config'>;
  /** Applies a saved settings file now (the reload_config path). */
}

const CAMERA = /^\/cameras\/([\w-]+)\/(frame\.jpg|detections|analysis)$/;
const EVENT = /^\/events\/([0-9A-HJKMNP-TV-Z]{26})(?:\/(evidence\.jpg|audio\.wav|audio\/[\w.-]+\.wav))?$/;

interface WarningRow {
  id: number;
  speaker_id: string;
  repeat: number | null;
  text: string;
  outcome: string;
}

/**
 * The evidence set's recording of a played warning (the bytes the speaker was sent, in a
 * WAV container), while it is still on this box.
 */
function playedAudio(d: ConsoleDeps, eventId: string, w: WarningRow) {
  const name = `warning-${w.speaker_id}-${w.repeat ?? 0}.wav`;
  return d.evidence.items(eventId).find((i) => i.kind === 'audio' && i.name === name && !i.deletedAt && existsSync(i.path)) ?? null;
}

export function eventSummary(d: ConsoleDeps, e: EventRecord) {
  const s = d.ctx.config.settings;
  const cam = s.cameras.find((c) => c.id === e.camera);
  const zone = cam?.zones.find((z) => z.id === e.zone);
  return {
    id: e.id,
    seq: e.seq,
    type: e.type,
    type_zh: CATALOGUE[e.type]?.zh ?? e.type,
    camera: e.camera,
    camera_name: cam?.name ?? e.camera,
    zone: e.zone,
    zone_name: zone?.name ?? e.zone,
    state: e.state,
    reason: e.reason,
    officer_id: e.officerId,
    classes: e.classes,
    box: e.box,
    confirmed_at: e.confirmedAt,
    updated_at: e.updatedAt,
    closed_at: e.closedAt,
    picture: Boolean(e.evidencePath),
  };
}

/**
 * How often the camera is really analysed (the median recent gap between analysed frames),
 * and whether that is more than twice what it asks for: the box is falling behind on it.
 */
export function achieved(intervalS: number, h: CameraHealth | undefined) {
  const a = h?.analysisIntervalS ?? null;
  return { analysis_interval_s: a, behind: a !== null && a > 2 * intervalS };
}

export async function readApi(r: Request, d: ConsoleDeps): Promise<void> {
  const { path, url, res } = r;
  const s = d.ctx.config.settings;
  if (path === '/cameras') {
    const health = new Map(d.cameraHealth().map((h) => [h.camera, h]));
    return json(res, 200, {
      cameras: s.cameras.map((c) => ({
        id: c.id,
        name: c.name ?? c.id,
        place: c.place ?? null,
        enabled: c.enabled,
        interval_s: c.interval_s,
        location: c.location,
        speakers: c.speakers,
        zones: c.zones,
        health: health.get(c.id) ?? null,
        ...achieved(c.interval_s, health.get(c.id)),
      })),
    });
  }
  const cm = CAMERA.exec(path);
  if (cm) {
    if (!s.cameras.some((c) => c.id === cm[1])) throw new HttpError(404, `no camera "${cm[1]}"`);
    // "detections" is the older name of the same answer.
    if (cm[2] !== 'frame.jpg') return json(res, 200, d.latest.analysis(cm[1]) ?? { ts: null, detections: [], tracks: [] });
    const pic = await d.latest.jpeg(cm[1]);
    if (!pic) throw new HttpError(404, `camera "${cm[1]}" has no analysed picture yet`);
    res.writeHead(200, {
      'content-type': 'image/jpeg',
      'content-length': pic.data.length,
      'cache-control': 'no-store',
      'x-frame-ts': pic.ts,
    });
    return void res.end(pic.data);
  }
  if (path === '/catalogue') {
    return json(res, 200, {
      types: VIOLATION_TYPES.map((t) => ({ type: t, ...CATALOGUE[t] })),
      states: EVENT_STATES,
    });
  }
  if (path === '/events') {
    const q = url.searchParams;
    const where: string[] = [];
    const args: (string | number)[] = [];
    for (const [k, col] of [
      ['type', 'type'],
      ['camera', 'camera_id'],
      ['state', 'state'],
    ] as const) {
      const v = q.get(k);
      if (v) where.push(`${col} = ?`), args.push(v);
    }
    for (const [k, op] of [
      ['since', '>='],
      ['until', '<'],
    ] as const) {
      const v = q.get(k);
      if (!v) continue;
      const t = Date.parse(v);
      if (Number.isNaN(t)) throw new HttpError(400, `${k}: not a time (${v})`);
      where.push(`confirmed_at ${op} ?`), args.push(t);
    }
    const limit = Math.min(500, Math.max(1, Number(q.get('limit') ?? 200) || 200));
    const ids = d.ctx.db
      .prepare(`SELECT id FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${limit}`)
      .all(...args) as { id: string }[];
    return json(res, 200, { events: ids.map((x) => eventSummary(d, d.repo.get(x.id)!)) });
  }
  const em = EVENT.exec(path);
  if (em) {
    const e = d.repo.get(em[1]);
    if (!e) throw new HttpError(404, `no event ${em[1]}`);
    if (em[2] === 'evidence.jpg') {
      if (!e.evidencePath || !existsSync(e.evidencePath)) throw new HttpError(404, 'this event has no picture on this box');
      res.writeHead(200, { 'content-type': 'image/jpeg', 'cache-control': 'private, max-age=86400' });
      return void createReadStream(e.evidencePath).pipe(res);
    }
    const warnings = d.ctx.db
      .prepare('SELECT id, speaker_id, at, outcome, reason, code, duration_ms, text, repeat FROM warnings WHERE event_id = ? ORDER BY id')
      .all(e.id) as WarningRow[];
    if (em[2]?.startsWith('audio/')) {
      const name = em[2].slice('audio/'.length);
      const item = d.evidence.items(e.id).find((i) => i.kind === 'audio' && i.name === name && !i.deletedAt);
      if (!item || !existsSync(item.path)) throw new HttpError(404, `no recording ${name} in this event's evidence on this box`);
      // The file as stored (G.711 in WAV, as sent to the speaker): Chromium and Firefox play it.
      res.writeHead(200, {
        'content-type': 'audio/wav',
        'content-length': item.bytes,
        'cache-control': 'private, max-age=86400',
        'x-evidence-sha256': item.sha256,
      });
      return void createReadStream(item.path).pipe(res);
    }
    // Without the evidence recording (retention removed it, or it was never written): synthesised again.
    if (em[2] === 'audio.wav') {
      const w = warnings.find((x) => String(x.id) === url.searchParams.get('warning')) ?? warnings.find((x) => x.outcome === 'played');
      if (!w) throw new HttpError(404, 'no warning was played for this event');
      const data = await warningWav(
        await d.audio(),
        w.text,
        s.speakers.find((x) => x.id === w.speaker_id),
      );
      res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': data.length, 'cache-control': 'private, max-age=3600' });
      return void res.end(data);
    }
    return json(res, 200, {
      event: eventSummary(d, e),
      transitions: d.repo.transitions(e.id),
      warnings: warnings.map((w) => ({ ...w, recording: w.outcome === 'played' ? (playedAudio(d, e.id, w)?.name ?? null) : null })),
      dispatches: d.dispatches.forEvent(e.id),
    });
  }
  if (path === '/stream') {
    const onTransition = (t: { event: EventRecord; from: string | null; to: string; at: number }) => ({
      event: eventSummary(d, t.event),
      from: t.from,
      to: t.to,
      at: t.at,
    });
    return openStream(res, (write) => {
      const a = (t: Parameters<typeof onTransition>[0]) => write('transition', onTransition(t));
      const b = (o: unknown) => write('warning', o);
      const c = (h: CameraHealth) => write('health', h);
      d.ctx.bus.on('event.transition', a);
      d.ctx.bus.on('warning.outcome', b);
      d.ctx.bus.on('camera.health', c);
      return () => {
        d.ctx.bus.off('event.transition', a);
        d.ctx.bus.off('warning.outcome', b);
        d.ctx.bus.off('camera.health', c);
      };
    });
  }
  if (path === '/speakers') {
    const h = new Map(d.speakerHealth().map((x) => [x.speaker, x]));
    return json(res, 200, {
      speakers: s.speakers.map((sp) => ({
        id: sp.id,
        name: sp.name ?? sp.id,
        url: sp.url.replace(/\/\/[^@/]*@/, '//***@'),
        codec: sp.codec,
        gain_db: sp.gain_db,
        cameras: s.cameras.filter((c) => c.speakers.includes(sp.id)).map((c) => c.id),
        health: h.get(sp.id) ?? null,
      })),
    });
  }
  if (path === '/officers') {
    const states = new Map(d.roster.states().map((x) => [x.id, x]));
    const open = d.ctx.db
      .prepare(`SELECT d.officer_id, d.event_id, d.state, e.type, e.camera_id FROM dispatches d JOIN events e ON e.id = d.event_id
        WHERE d.state IN ('offered', 'accepted', 'arrived') ORDER BY d.created_at`)
      .all() as { officer_id: string; event_id: string; state: string; type: string; camera_id: string }[];
    return json(res, 200, {
      officers: s.officers.map((o) => ({
        ...o,
        state: states.get(o.id) ?? null,
        jobs: open.filter((j) => j.officer_id === o.id),
      })),
      cameras: s.cameras.map((c) => ({ id: c.id, name: c.name ?? c.id, location: c.location })),
    });
  }
  if (path === '/stats') {
    const t = (k: string) => (url.searchParams.get(k) ? Date.parse(url.searchParams.get(k)!) : null);
    const [since, until] = [t('since'), t('until')];
    if (Number.isNaN(since) || Number.isNaN(until)) throw new HttpError(400, 'since and until are ISO 8601 times');
    return json(res, 200, {
      stats: d.stats(since, until),
      breakdown: breakdown(d.ctx.db, { since, until: until ?? Date.now(), timeZone: s.gateway.timezone }),
    });
  }
  throw new HttpError(404, `no such page: ${path}`);
}
