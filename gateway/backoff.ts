/**
 * Exponential back-off, the one implementation (cameras reconnecting, model workers
 * restarting). With jitter for cameras: many behind one switch that reboots must not all
 * reconnect in the same second.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

/** The plain doubling delay before retry number `attempt` (0 first), capped at `maxMs`. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
}

export class Backoff {
  attempt = 0;
  private readonly o: Required<BackoffOptions>;

  constructor(o: BackoffOptions) {
    this.o = { random: Math.random, ...o };
  }

  /** The next delay: half fixed, half random ("equal jitter"), so it never collapses to 0. */
  next(): number {
    const cap = backoffDelay(this.attempt, this.o.baseMs, this.o.maxMs);
    this.attempt++;
    return cap / 2 + this.o.random() * (cap / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
