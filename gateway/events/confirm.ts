/**
 * A verdict becomes an event: the evidence picture first (outside any transaction; a
 * full disk records the event without it and says why), then the row and its messages.
 * The two steps are apart so that a row the database refuses (a full disk) can be kept
 * and written later, once, under the same id (events/held.ts).
 */
import { ulid } from 'ulid';
import type { Logger } from '../log.ts';
import type { Clock } from '../clock.ts';
import type { Verdict } from '../rules/engine.ts';
import type { EventRecord } from '../core/event.ts';
import { eventPayload, type CameraInfo } from '../api/payloads.ts';
import { CATALOGUE } from '../rules/catalogue.ts';
import { writeEvidence } from './evidence.ts';
import type { EventLifecycle } from './lifecycle.ts';

export interface FrameCopy {
  rgb: Buffer;
  width: number;
  height: number;
  /** Fetches a full-resolution still of the scene for the evidence, if the camera has one. */
  still?: () => Promise<Buffer | null>;
}

export interface ConfirmDeps {
  lifecycle: EventLifecycle;
  log: Logger;
  clock: Clock;
  gatewayId: string;
  evidenceDir: string;
  /** Free space below which no evidence picture is written (gateway.evidence_min_free_mb). */
  evidenceMinFreeBytes?: number;
  timeZone: string;
  camera: (id: string) => CameraInfo;
  evidenceUrl?: (e: EventRecord) => string | null;
}

/** An event ready to be stored: its evidence is written (or not, and why), its id fixed. */
export interface PreparedEvent {
  row: Omit<EventRecord, 'seq'>;
  message: (e: EventRecord) => { msg_id: string };
  verdict: Verdict;
}

export async function confirmEvent(d: ConfirmDeps, v: Verdict, frame: FrameCopy): Promise<EventRecord> {
  return recordEvent(d, await prepareEvent(d, v, frame));
}

/**
 * The row as it will be stored, before its evidence is known: enough to decide and start
 * the first warning while the picture is still being fetched and written.
 */
export function draftRow(d: Pick<ConfirmDeps, 'clock'>, v: Verdict, id: string = ulid(v.at)): Omit<EventRecord, 'seq'> {
  return {
    id,
    type: v.rule.type,
    camera: v.rule.camera,
    zone: v.rule.zone,
    state: 'confirmed',
    trackIds: v.tracks.map((t) => t.id),
    classes: v.classes,
    box: v.box,
    firstSeenAt: v.since,
    confirmedAt: v.at,
    dueAt: null,
    evidencePath: null,
    evidenceSha256: null,
    officerId: null,
    reason: null,
    data: {},
    updatedAt: d.clock.now(),
    closedAt: null,
  };
}

/** The evidence picture and the row, nothing stored yet. */
export async function prepareEvent(d: ConfirmDeps, v: Verdict, frame: FrameCopy, id: string = ulid(v.at)): Promise<PreparedEvent> {
  const r = v.rule;
  const t0 = performance.now();
  const still = frame.still ? await frame.still().catch(() => null) : null;
  const t1 = performance.now();
  const ev = await writeEvidence(d.evidenceDir, {
    eventId: id,
    rgb: frame.rgb,
    width: frame.width,
    height: frame.height,
    polygon: r.polygon,
    still,
    boxes: v.tracks.map((t) => ({ box: t.box, label: `${t.label} #${t.id}` })),
    title: `${r.type} ${CATALOGUE[r.type].zh} ${r.camera} ${r.zoneName}`,
    at: v.at,
    timeZone: d.timeZone,
    minFreeBytes: d.evidenceMinFreeBytes,
  }).catch((err: Error) => {
    d.log.error({ camera: r.camera, err }, 'evidence could not be written; recording the event without it');
    return null;
  });
  const ms = (x: number) => Math.round(x);
  d.log.debug({ event: id, camera: r.camera, still_ms: ms(t1 - t0), evidence_ms: ms(performance.now() - t1) }, 'evidence written');
  return {
    verdict: v,
    row: {
      ...draftRow(d, v, id),
      evidencePath: ev?.path ?? null,
      evidenceSha256: ev?.sha256 ?? null,
      data: ev ? {} : { evidence_error: 'not written' },
    },
    message: (e) => eventPayload(d.gatewayId, e, d.camera(e.camera), r.zoneName, d.evidenceUrl?.(e) ?? null),
  };
}

/** The row, its first transition and its messages, in one transaction (throws what the database throws). */
export function recordEvent(d: ConfirmDeps, p: PreparedEvent): EventRecord {
  const { verdict: v, row } = p;
  const r = v.rule;
  const event = d.lifecycle.create({ ...row, updatedAt: d.clock.now() }, p.message);
  d.log.info(
    { event: row.id, type: r.type, camera: r.camera, zone: r.zone, dwell_s: Math.round((v.at - v.since) / 1000), classes: v.classes },
    'event confirmed',
  );
  return event;
}
