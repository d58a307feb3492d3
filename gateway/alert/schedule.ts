/**
 * When a warning may sound: quiet hours per site (or per camera) in the site's time zone,
 * and a rate limit per zone so a busy street is not shouted at every minute.
 */
import { mono, type Clock } from '../clock.ts';

/** Minutes since local midnight at `at` in `timeZone`. */
export function localMinutes(at: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(
    new Date(at),
  );
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return get('hour') * 60 + get('minute');
}

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** The configured range that `at` falls in ("22:00-07:00" wraps midnight), or null. */
export function quietRange(ranges: readonly string[], at: number, timeZone: string): string | null {
  const now = localMinutes(at, timeZone);
  for (const r of ranges) {
    const [from, to] = r.split('-').map(minutes);
    const inside = from <= to ? now >= from && now < to : now >= from || now < to;
    if (inside && from !== to) return r;
  }
  return null;
}

/**
 * At most `max` warnings per zone in any `windowMs`. Kept in memory, and refilled at start
 * from the warnings table (`restore`), so a restart does not let a busy zone be shouted at
 * again early.
 */
export class ZoneRateLimiter {
  readonly #stamps = new Map<string, number[]>();
  readonly #max: number;
  readonly #windowMs: number;
  readonly #clock: Clock | undefined;

  /**
   * With a clock, the window is measured in its monotonic time, so a wall clock stepped
   * back does not hold warnings for an hour, nor one stepped forward lift the limit at
   * once. Callers still speak wall time; without a clock the times given are used as is.
   */
  constructor(max: number, windowMs: number, clock?: Clock) {
    this.#max = max;
    this.#windowMs = windowMs;
    this.#clock = clock;
  }

  /** A wall time, as monotonic time (wall and monotonic differ by a constant until the wall clock steps). */
  #mono(wall: number): number {
    return this.#clock ? wall - (this.#clock.now() - mono(this.#clock)) : wall;
  }

  /** null when a warning may sound now, else the (wall) time from which it may. */
  nextAllowed(zone: string, now: number): number | null {
    if (this.#windowMs <= 0) return null;
    const m = this.#mono(now);
    const recent = (this.#stamps.get(zone) ?? []).filter((t) => t > m - this.#windowMs);
    this.#stamps.set(zone, recent);
    return recent.length < this.#max ? null : now + (recent[recent.length - this.#max] + this.#windowMs - m);
  }

  get windowMs(): number {
    return this.#windowMs;
  }

  /** Warnings given before a restart, oldest first. */
  restore(given: readonly { zone: string; at: number }[]): void {
    for (const g of given) this.record(g.zone, g.at);
  }

  record(zone: string, at: number): void {
    const list = this.#stamps.get(zone) ?? [];
    list.push(this.#mono(at));
    this.#stamps.set(zone, list);
  }
}
