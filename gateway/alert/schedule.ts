/**
 * When a warning may sound: quiet hours per site (or per camera) in the site's time zone,
 * and a rate limit per zone so a busy street is not shouted at every minute.
 */

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

  constructor(max: number, windowMs: number) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  /** null when a warning may sound now, else the time from which it may. */
  nextAllowed(zone: string, now: number): number | null {
    if (this.#windowMs <= 0) return null;
    const recent = (this.#stamps.get(zone) ?? []).filter((t) => t > now - this.#windowMs);
    this.#stamps.set(zone, recent);
    return recent.length < this.#max ? null : recent[recent.length - this.#max] + this.#windowMs;
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
    list.push(at);
    this.#stamps.set(zone, list);
  }
}
