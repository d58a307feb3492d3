/**
 * Exponential backoff with jitter: many cameras behind one switch that reboots must not
 * all reconnect in the same second.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

export class Backoff {
  attempt = 0;
  private readonly o: Required<BackoffOptions>;

  constructor(o: BackoffOptions) {
    this.o = { random: Math.random, ...o };
  }

  /** The next delay: half fixed, half random ("equal jitter"), so it never collapses to 0. */
  next(): number {
    const cap = Math.min(this.o.maxMs, this.o.baseMs * 2 ** this.attempt);
    this.attempt++;
    return cap / 2 + this.o.random() * (cap / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
