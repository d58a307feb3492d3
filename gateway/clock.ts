/**
 * Time comes from here, so tests can run the lifecycle on a clock they control.
 *
 * `now()` is the wall clock: for what goes into records and messages. It steps when NTP
 * corrects it, and an edge box without an RTC steps it at every boot. Durations (send
 * budgets, rate limits, timeouts) use `mono()`, which only ever moves forward.
 */
export interface Clock {
  now(): number;
  /** Milliseconds from an arbitrary start, never stepping; performance.now() unless a test injects one. */
  mono?(): number;
}

export const systemClock: Clock = { now: () => Date.now(), mono: () => performance.now() };

/** The clock's monotonic time (performance.now() for a clock that has none). */
export function mono(clock?: Clock): number {
  return clock?.mono ? clock.mono() : performance.now();
}

/**
 * Notices the wall clock stepping: wall minus monotonic time is constant while the clock
 * runs steadily; a change beyond `thresholdMs` between checks is a step (NTP, an RTC-less
 * boot, an operator), reported with its size in ms (negative: back).
 */
export class ClockWatch {
  private offset: number;
  private readonly clock: Clock;
  private readonly thresholdMs: number;
  private readonly onStep: (stepMs: number, wall: number) => void;

  constructor(clock: Clock, onStep: (stepMs: number, wall: number) => void, thresholdMs = 5000) {
    this.clock = clock;
    this.onStep = onStep;
    this.thresholdMs = thresholdMs;
    this.offset = clock.now() - mono(clock);
  }

  check(): void {
    const wall = this.clock.now();
    const offset = wall - mono(this.clock);
    const step = offset - this.offset;
    // Slow drift (NTP slewing) moves the offset a little at a time; follow it.
    this.offset = offset;
    if (Math.abs(step) > this.thresholdMs) this.onStep(step, wall);
  }
}

/**
 * Time that reads like the wall clock but moves only with the monotonic one (a fixed
 * offset taken at creation): frames are stamped with it, so dwell, track expiry and frame
 * order hold across a clock step. `toWall` turns such a time into what the wall clock
 * says now, for what goes into records.
 */
export class Steady {
  private readonly clock: Clock;
  private readonly offset: number;
  /** Wall minus steady time, as last taken (see toWall). */
  private correction = 0;

  constructor(clock: Clock) {
    this.clock = clock;
    this.offset = clock.now() - mono(clock);
  }

  /** Whole milliseconds, as Date.now() gives (ids are made from it). */
  now(): number {
    return Math.round(mono(this.clock) + this.offset);
  }

  toWall(t: number): number {
    // Two reads of both clocks differ by a millisecond now and then; verdicts of one frame
    // must get one time. So the correction follows steps and drift only beyond 100 ms.
    const delta = this.clock.now() - this.now();
    if (Math.abs(delta - this.correction) >= 100) this.correction = delta;
    return t + this.correction;
  }
}
