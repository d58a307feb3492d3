/**
 * Conditions of the whole box a person must know about (a full disk, a clock step): each
 * is logged once when it starts, published as an alert, named by /health while it lasts,
 * and logged again when it ends. Periodic work that writes runs through `guard`, so a
 * failed write is reported here instead of killing the process.
 */
import { statfsSync } from 'node:fs';
import { ulid } from 'ulid';
import type { Logger } from './log.ts';
import type { Clock } from './clock.ts';
import type { Topics } from './api/topics.ts';
import type { Uplink } from './uplink/uplink.ts';
import { PRIORITY } from './store/outbox.ts';
import { delivery } from './api/channels.ts';
import { alertPayload } from './api/payloads.ts';

export type FaultKind = 'disk_full' | 'disk_low' | 'clock_step';

export interface Fault {
  kind: FaultKind;
  since: number;
  message: string;
}

/** SQLite's "database or disk is full" and the file system's ENOSPC / EDQUOT. */
export function isDiskFull(e: unknown): boolean {
  const x = e as { code?: string; message?: string } | null;
  return (
    x?.code === 'ENOSPC' ||
    x?.code === 'EDQUOT' ||
    x?.code === 'SQLITE_FULL' ||
    /database or disk is full|no space left/i.test(x?.message ?? '')
  );
}

/** Bytes free for an unprivileged writer at `path`, or null where the file system cannot say. */
export function freeBytes(path: string): number | null {
  try {
    const s = statfsSync(path);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

export class Faults {
  private readonly active = new Map<FaultKind, Fault>();
  /** Conditions someone keeps on until they say otherwise (events held for a full disk). */
  private readonly holders = new Map<FaultKind, Set<string>>();
  private readonly o: { log: Logger; clock: Clock; uplink: Uplink; topics: Topics; gatewayId: string };

  constructor(o: { log: Logger; clock: Clock; uplink: Uplink; topics: Topics; gatewayId: string }) {
    this.o = o;
  }

  /** The conditions now, for /health. */
  list(): Fault[] {
    return [...this.active.values()];
  }

  has(kind: FaultKind): boolean {
    return this.active.has(kind);
  }

  /** Starts a condition (once: a repeat only refreshes its message) and tells the platform. */
  raise(kind: FaultKind, message: string, err?: unknown): void {
    const cur = this.active.get(kind);
    if (cur) {
      cur.message = message;
      this.o.log.debug({ kind, err }, message);
      return;
    }
    const now = this.o.clock.now();
    this.active.set(kind, { kind, since: now, message });
    this.o.log.error({ kind, err }, message);
    this.alert(kind, message, now);
  }

  /** Something that happened once (a clock step): logged and alerted, not a lasting condition. */
  notice(kind: FaultKind, message: string): void {
    this.o.log.warn({ kind }, message);
    this.alert(kind, message, this.o.clock.now());
  }

  /** Raises a condition that stays on while `holder` holds it: another write succeeding does not end it. */
  hold(kind: FaultKind, holder: string, message: string, err?: unknown): void {
    const set = this.holders.get(kind) ?? new Set();
    this.holders.set(kind, set.add(holder));
    this.raise(kind, message, err);
  }

  /** `holder` no longer needs the condition; it ends when nobody holds it. */
  release(kind: FaultKind, holder: string, message: string): void {
    const set = this.holders.get(kind);
    if (!set?.delete(holder)) return;
    this.clear(kind, message);
  }

  /** Ends a condition, if it was on and nobody holds it. */
  clear(kind: FaultKind, message: string): void {
    if (this.holders.get(kind)?.size) return;
    if (!this.active.delete(kind)) return;
    this.o.log.info({ kind }, message);
  }

  /**
   * Runs periodic work that writes. A full disk becomes the "disk full" condition, cleared
   * by the next write that succeeds; any other failure is logged. Nothing is thrown.
   */
  guard(what: string, fn: () => void): void {
    try {
      fn();
      this.clear('disk_full', `disk writable again (${what} written)`);
    } catch (e) {
      if (isDiskFull(e)) this.raise('disk_full', `disk full: ${what} could not be written; free space in gateway.data_dir`, e);
      else this.o.log.error({ err: e }, `${what} failed`);
    }
  }

  /**
   * The alert goes through the outbox when it can; with the disk full it cannot be stored,
   * so it is published at once (QoS 1) and is lost only if the broker is away too.
   */
  private alert(kind: FaultKind, message: string, now: number): void {
    const payload = alertPayload(this.o.gatewayId, { kind, event_id: null, message }, now);
    const msgId = ulid();
    const text = JSON.stringify({ ...payload, msg_id: msgId });
    try {
      this.o.uplink.enqueue({
        topic: this.o.topics.alerts(),
        payload: text,
        ...delivery('alerts'),
        priority: PRIORITY.status,
        msgId,
      });
      this.o.uplink.flush();
    } catch (e) {
      this.o.log.debug({ err: e }, 'alert not stored; publishing it directly');
      this.o.uplink.publishNow(this.o.topics.alerts(), text, delivery('alerts'));
    }
  }
}
