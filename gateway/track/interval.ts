/**
 * The interval a camera is actually analysed at, from the timestamps of its analysed
 * frames: the median of the recent gaps. A median, so one long gap (a stalled stream, a
 * restart) does not stretch it; recent, so it follows the box's load within a minute.
 */
export class IntervalMeter {
  private readonly gaps: number[] = [];
  private last: number | null = null;
  private readonly keep: number;

  constructor(keep = 9) {
    this.keep = keep;
  }

  add(ts: number): void {
    if (this.last !== null && ts > this.last) {
      this.gaps.push(ts - this.last);
      if (this.gaps.length > this.keep) this.gaps.shift();
    }
    this.last = ts;
  }

  /** Milliseconds; null before two frames. */
  medianMs(): number | null {
    if (!this.gaps.length) return null;
    const s = [...this.gaps].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  }

  /** Timestamp of the latest analysed frame (null before the first). */
  get lastTs(): number | null {
    return this.last;
  }
}
