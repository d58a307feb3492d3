/**
 * When a camera took each picture, on the wall clock, from the packets' own timeline.
 *
 * A packet's arrival time is a poor stamp on a busy box: it arrives when the main thread
 * gets round to the read, and the picture is decoded when a libuv thread is free, so two
 * key frames taken 2 s apart could be stamped 2.47 s and then 1.57 s apart (measured at 134
 * cameras). The tracker, the dwell timers and the achieved interval would all see that
 * jitter as the camera's. Delays only ever make a packet late, never early, so the
 * earliest arrival seen against the packets' timeline is the best estimate of where that
 * timeline sits on the wall clock: each picture is stamped there.
 *
 * A stamp is never later than the packet's arrival, and never earlier than the last stamp.
 * A timeline that jumps (a new stream, a file's loop gone wrong) or a camera whose clock
 * runs slow moves the line back to the arrivals once they are `resyncMs` late against it.
 */
export class CaptureClock {
  /** Wall ms minus timeline ms, the smallest seen since the last resync. */
  private offset: number | null = null;
  private last = -Infinity;
  private readonly resyncMs: number;

  constructor(resyncMs = 1000) {
    this.resyncMs = resyncMs;
  }

  /** The wall-clock stamp of a packet at `mediaS` seconds of its timeline, read at `now`. */
  at(mediaS: number, now: number = Date.now()): number {
    const off = now - mediaS * 1000;
    if (this.offset === null || off < this.offset || off - this.offset > this.resyncMs) this.offset = off;
    const ts = Math.round(Math.min(now, this.offset + mediaS * 1000));
    this.last = Math.max(ts, this.last + 1);
    return this.last;
  }
}
