/**
 * The JSON payloads the gateway publishes, built in one place so that the contract
 * (docs/asyncapi.yaml and its JSON Schemas) has a single source to be checked against.
 * Times are ISO 8601 with offset; durations are seconds.
 */
import type { EventRecord, EventState } from '../core/event.ts';
import type { WarningOutcome } from '../alert/types.ts';
import type { CameraHealth } from '../capture/health.ts';
import { CATALOGUE } from '../rules/catalogue.ts';
import type { Static } from '@sinclair/typebox';
import type { EventMessage, TransitionMessage, TransitionNote, WarningMessage } from './schema/events.ts';
import type { AlertMessage, DispatchMessage } from './schema/dispatch.ts';
import type { CameraHealthMessage } from './schema/system.ts';
import type { DispatchRecord } from '../store/dispatches.ts';

function iso(t: number): string;
function iso(t: number | null): string | null;
function iso(t: number | null): string | null {
  return t === null ? null : new Date(t).toISOString();
}

export interface CameraInfo {
  id: string;
  name: string;
  location: { lat: number; lon: number };
  place?: string;
}

export function eventPayload(gw: string, e: EventRecord, cam: CameraInfo, zoneName: string, evidenceUrl: string | null): EventMessage {
  return {
    msg_id: '',
    gateway: gw,
    id: e.id,
    seq: e.seq,
    type: e.type,
    type_zh: CATALOGUE[e.type].zh,
    state: e.state,
    camera: { id: cam.id, name: cam.name, location: cam.location, place: cam.place ?? null },
    zone: { id: e.zone, name: zoneName },
    track_ids: e.trackIds,
    classes: e.classes,
    box: e.box.map((v) => Math.round(v * 10000) / 10000),
    first_seen_at: iso(e.firstSeenAt),
    confirmed_at: iso(e.confirmedAt),
    dwell_s: Math.round((e.confirmedAt - e.firstSeenAt) / 1000),
    evidence: e.evidenceSha256 ? { sha256: e.evidenceSha256, url: evidenceUrl, content_type: 'image/jpeg' } : null,
  };
}

export function transitionPayload(
  gw: string,
  e: EventRecord,
  from: EventState | null,
  at: number,
  note: TransitionNote,
): TransitionMessage {
  return {
    msg_id: '',
    gateway: gw,
    event_id: e.id,
    seq: e.seq,
    type: e.type,
    camera: e.camera,
    from,
    to: e.state,
    at: iso(at),
    reason: e.reason,
    officer_id: e.officerId,
    ...note,
  };
}

export function warningPayload(gw: string, w: WarningOutcome): WarningMessage {
  return {
    msg_id: '',
    gateway: gw,
    event_id: w.eventId,
    speaker: w.speaker,
    outcome: w.outcome,
    code: w.code,
    reason: w.reason,
    text: w.text,
    duration_s: Math.round(w.durationMs / 100) / 10,
    repeat: w.repeat ?? 0,
    at: iso(w.at),
  };
}

export function healthPayload(gw: string, h: CameraHealth, now: number, intervalS: number): Static<typeof CameraHealthMessage> {
  return {
    gateway: gw,
    camera: h.camera,
    state: h.state,
    reason: h.reason,
    code: h.code,
    since: iso(h.since),
    last_frame_at: iso(h.lastFrameAt),
    last_frame_age_s: h.lastFrameAt === null ? null : Math.round((now - h.lastFrameAt) / 100) / 10,
    frames_per_minute: h.framesPerMinute,
    restarts: h.restarts,
    dropped: h.dropped,
    resolution: h.width ? `${h.width}x${h.height}` : null,
    interval_s: intervalS,
    analysis_interval_s: h.analysisIntervalS ?? null,
    still_skipped: h.stillSkipped ?? 0,
    still_undecoded: h.quietSkipped ?? 0,
  };
}

/** A dispatch in its current state: the offer to the officer, and every change after it. */
export function dispatchPayload(
  gw: string,
  e: EventRecord,
  cam: CameraInfo,
  zoneName: string,
  d: DispatchRecord,
  officer: { name: string; town?: string },
  evidenceUrl: string | null,
  at: number,
): DispatchMessage {
  return {
    msg_id: '',
    gateway: gw,
    dispatch_id: d.id,
    event_id: e.id,
    state: d.state,
    reason: d.reason,
    officer_id: d.officerId,
    officer_name: officer.name,
    town: officer.town ?? null,
    tier: d.tier,
    attempt: d.attempt,
    summary: `${CATALOGUE[e.type].zh}：${cam.place ?? cam.name} ${zoneName}`,
    type: e.type,
    type_zh: CATALOGUE[e.type].zh,
    confirmed_at: iso(e.confirmedAt),
    place: {
      camera_id: cam.id,
      camera_name: cam.name,
      zone: zoneName,
      name: cam.place ?? null,
      lat: cam.location.lat,
      lon: cam.location.lon,
    },
    distance_m: Math.round(d.distanceM),
    evidence: e.evidenceSha256 ? { sha256: e.evidenceSha256, url: evidenceUrl } : null,
    answer_by: d.state === 'offered' ? iso(d.dueAt) : null,
    deadline: iso(d.deadlineAt),
    at: iso(at),
  };
}

export function alertPayload(gw: string, a: Omit<AlertMessage, 'msg_id' | 'gateway' | 'at'>, at: number): AlertMessage {
  return { msg_id: '', gateway: gw, ...a, at: iso(at) };
}
