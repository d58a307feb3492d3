/**
 * How many threads inference gets, and whether they spin between runs, when the settings
 * leave it open. A few cameras: two threads that spin, the lowest latency per frame. Many:
 * one thread that sleeps between runs, so the other core reads the streams, tracks and
 * writes events; at 134 cameras that took the warning after a dwell from 2.1 s to 1.1 s
 * (p95) and the gateway from 1.58 to 1.33 cores (scripts/bench-gateway.ts, README "Scale").
 */
export const MANY_CAMERAS = 16;

export function threading(d: { threads?: number; spin?: boolean }, cameras: number): { threads: number; spin: boolean } {
  const many = cameras > MANY_CAMERAS;
  return { threads: d.threads ?? (many ? 1 : 2), spin: d.spin ?? !many };
}
