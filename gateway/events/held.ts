/**
 * Confirmed events the database refused for want of space. Dropping one would lose a
 * violation for good (its track has fired, so it is not raised again) and leave no trace;
 * so it is held here, in confirmation order, and written every few seconds until the disk
 * takes it: once, under the id it was confirmed with, with the next `seq` (no gap). While
 * any is held, "disk full" stays on (/health, one alert). Held events live in memory only:
 * a restart before the disk is freed loses them (a thing still there is raised again).
 */
import type { Logger } from '../log.ts';
import { isDiskFull, type Faults } from '../faults.ts';
import type { EventRecord } from '../core/event.ts';
import type { ZoneRule } from '../rules/zone-rules.ts';
import { iou, type Box } from '../zones/geometry.ts';
import type { PreparedEvent } from './confirm.ts';

const RETRY_MS = 2000;
const HOLDER = 'held events';

interface Held {
  event: PreparedEvent;
  stored: (e: EventRecord) => void;
  failed: (err: Error) => void;
}

export class HeldEvents {
  private readonly queue: Held[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly o: { log: Logger; faults?: Faults; write: (p: PreparedEvent) => EventRecord; retryMs?: number };

  constructor(o: { log: Logger; faults?: Faults; write: (p: PreparedEvent) => EventRecord; retryMs?: number }) {
    this.o = o;
  }

  get size(): number {
    return this.queue.length;
  }

  /** Stores the event now, or (disk full) holds it; resolves once it is stored. Events already held go first. */
  store(p: PreparedEvent): Promise<EventRecord> {
    if (!this.queue.length) {
      try {
        return Promise.resolve(this.o.write(p));
      } catch (e) {
        if (!isDiskFull(e)) return Promise.reject(e);
        return this.hold(p, e);
      }
    }
    return this.hold(p);
  }

  /** A held event at this spot stands for the matter there, as a stored open one would. */
  holds(rule: ZoneRule, box: Box): boolean {
    return this.queue.some(({ event: { row } }) => {
      if (row.camera !== rule.camera || row.zone !== rule.zone || row.type !== rule.type) return false;
      return iou(row.box, box) > 0.3 || rule.minCount > 1;
    });
  }

  private hold(p: PreparedEvent, err?: unknown): Promise<EventRecord> {
    return new Promise((stored, failed) => {
      this.queue.push({ event: p, stored, failed });
      this.report(err);
      this.timer ??= setInterval(() => this.retry(), this.o.retryMs ?? RETRY_MS);
    });
  }

  /** Writes held events in order until the disk refuses again. */
  retry(): void {
    while (this.queue.length) {
      const h = this.queue[0];
      try {
        h.stored(this.o.write(h.event));
      } catch (e) {
        if (isDiskFull(e)) return this.report(e);
        // Not the disk: this event cannot be written at all; the ones after it still can.
        this.o.log.error({ event: h.event.row.id, err: e }, 'held event could not be recorded');
        h.failed(e as Error);
      }
      this.queue.shift();
      if (this.queue.length === 0) {
        this.o.log.info({}, 'every held event is recorded');
        this.o.faults?.release('disk_full', HOLDER, 'disk writable again: every held event is recorded');
      }
    }
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private report(err?: unknown): void {
    const n = this.queue.length;
    const oldest = new Date(this.queue[0].event.row.confirmedAt).toISOString();
    this.o.faults?.hold(
      'disk_full',
      HOLDER,
      `disk full: ${n} confirmed event${n > 1 ? 's' : ''} (oldest ${oldest}) held in memory until the database can take them; free space in gateway.data_dir`,
      err,
    );
  }

  /** The gateway stops: what is still held is lost, and said so. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.queue.length) return;
    const ids = this.queue.map((h) => h.event.row.id);
    this.o.log.error({ events: ids }, 'stopping with confirmed events the full disk never took; they are lost');
    for (const h of this.queue.splice(0)) h.failed(new Error(`event ${h.event.row.id} not recorded: the disk stayed full until stop`));
  }
}
