/**
 * The capture clock stamps pictures on their own timeline: arrivals that a busy box made
 * late do not move the stamps, and a timeline that jumps or drifts is followed.
 */
import { describe, expect, it } from 'vitest';
import { CaptureClock } from '../../devices/ffmpeg/capture-clock.ts';

describe('CaptureClock', () => {
  it('stamps key frames 2 s apart when their arrivals jitter by half a second', () => {
    const c = new CaptureClock();
    const base = 1_000_000;
    const late = [0, 470, 40, 300, 0, 10];
    const stamps = late.map((l, i) => c.at(i * 2, base + i * 2000 + l));
    expect(stamps.slice(1).map((s, i) => s - stamps[i])).toEqual([2000, 2000, 2000, 2000, 2000]);
  });

  it('learns the line from the earliest arrival, and never stamps later than the arrival', () => {
    const c = new CaptureClock();
    // The first packet came 300 ms late: the next, on time, moves the line.
    expect(c.at(0, 10_300)).toBe(10_300);
    expect(c.at(2, 12_000)).toBe(12_000);
    expect(c.at(4, 14_250)).toBe(14_000);
  });

  it('follows a timeline that jumps back, once arrivals are a second late against it', () => {
    const c = new CaptureClock();
    c.at(100, 100_000);
    c.at(102, 102_000);
    // The timeline restarted at 0 (a new stream), 2 s later on the wall clock.
    const s = c.at(0, 104_000);
    expect(s).toBe(104_000);
    expect(c.at(2, 106_000)).toBe(106_000);
  });

  it('follows a camera whose clock runs slow, and stamps always increase', () => {
    const c = new CaptureClock();
    let prev = -Infinity;
    let worst = 0;
    // 1% slow: its 2 s are 2.02 s of ours.
    for (let i = 0; i < 500; i++) {
      const now = 50_000 + i * 2020;
      const s = c.at(i * 2, now);
      expect(s).toBeGreaterThan(prev);
      worst = Math.max(worst, now - s);
      prev = s;
    }
    expect(worst).toBeLessThanOrEqual(1000);
  });
});
