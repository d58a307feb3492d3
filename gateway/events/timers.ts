/**
 * Each open event's next step on a timer at its due time, one step at a time per event.
 * A step that throws is logged with its stack and tried again in 10 s; stop() waits (a
 * bounded time) for steps under way, such as a warning playing.
 *
 * A due time is wall-clock (it is stored, so a restart resumes), but the wait for it is
 * monotonic: the delay is taken when the timer is armed, and a timer that fired makes
 * its event due whatever the wall clock says by then (`due`). A clock stepped back an
 * hour does not hold a recheck or an offer's answer time for an hour; one stepped
 * forward does not fire the timers already armed.
 */
import type { Logger } from '../log.ts';
import type { Clock } from '../clock.ts';
import { TERMINAL, type EventRecord } from '../core/event.ts';

const RETRY_MS = 10_000;

export class Timers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<void>>();
  /** The due time each event's last timer was armed for, once it has fired. */
  private readonly fired = new Map<string, number>();
  private stopped = false;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly run: (id: string) => Promise<void>;

  constructor(clock: Clock, log: Logger, run: (id: string) => Promise<void>) {
    this.clock = clock;
    this.log = log;
    this.run = run;
  }

  /** Arms the event's next step at its due time (now if none); a closed event gets none. */
  schedule(e: EventRecord): void {
    this.at(e.id, TERMINAL.has(e.state) ? null : (e.dueAt ?? this.clock.now()));
  }

  /** Runs the event's step now, in this turn (no timer hop); one already under way is let be. */
  now(e: EventRecord): Promise<void> {
    this.at(e.id, null);
    this.fired.set(e.id, e.dueAt ?? this.clock.now());
    return this.step(e.id);
  }

  /** The event's step is due: its due time has passed, or the timer armed for it fired. */
  due(e: EventRecord): boolean {
    return e.dueAt === null || e.dueAt <= this.clock.now() || this.fired.get(e.id) === e.dueAt;
  }

  /**
   * The time a due step stands for: its due time when its timer waited for it (monotonic),
   * else the wall clock's now (it was due already when armed, as after a restart). A
   * warning's grace window is judged by it, so a step does not skip or add repeats.
   */
  stepTime(e: EventRecord): number {
    return e.dueAt !== null && this.fired.get(e.id) === e.dueAt ? e.dueAt : this.clock.now();
  }

  busy(id: string): boolean {
    return this.running.has(id);
  }

  /** Work that stop() should wait for, under its own key. */
  track<T>(key: string, p: Promise<T>): Promise<T> {
    this.running.set(
      key,
      p.then(
        () => undefined,
        () => undefined,
      ),
    );
    return p.finally(() => this.running.delete(key));
  }

  private at(id: string, when: number | null): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    this.fired.delete(id);
    if (this.stopped || when === null) return;
    const delay = Math.min(Math.max(0, when - this.clock.now()), 2 ** 31 - 1);
    this.timers.set(
      id,
      setTimeout(() => {
        this.timers.delete(id);
        // Beyond Node's longest timeout the due time is checked again when this fires; a step
        // due when armed (no wait) is due by the wall clock, and stands for now (stepTime).
        if (delay > 0 && delay < 2 ** 31 - 1) this.fired.set(id, when);
        void this.step(id);
      }, delay),
    );
  }

  private step(id: string): Promise<void> {
    if (this.running.has(id) || this.stopped) return Promise.resolve();
    const p = this.run(id).catch((err: Error) => {
      if (this.stopped) return; // the store may be closing under us; the next start resumes
      this.log.error({ event: id, err }, 'event step failed; retrying in 10 s');
      this.at(id, this.clock.now() + RETRY_MS);
    });
    return this.track(id, p);
  }

  async stop(waitMs: number): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    const pending = [...this.running.values()];
    if (pending.length) await Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, waitMs).unref())]);
  }
}
