/**
 * Says when the box cannot analyse its cameras as often as their `interval_s` asks, so a
 * gateway that has fallen behind never looks fine. Judged from what was achieved (each
 * camera's median interval between analysed frames, or the age of its last analysis if
 * that is longer: a starved camera) together with the detector giving frames up: a camera
 * whose key frames come less often than its interval_s is slow, not the box.
 * One alert per episode, after two checks in a row; it clears after two good checks.
 *
 * A camera that has never been analysed since its pipeline started counts too, once that
 * is long past its interval: on a box so loaded that its decoders starve, frames never
 * reach the detector (nothing is given up there), streams stall and restart, and without
 * this the gateway would say nothing while it sees nothing. Such starved cameras raise the
 * alert without frames given up.
 */
import type { Logger } from '../log.ts';

export interface CameraLoad {
  camera: string;
  /** Wanted seconds between analyses. */
  intervalS: number;
  /** Achieved: median seconds between analysed frames (null before two). */
  analysisIntervalS: number | null;
  /** Wall-clock ms of the last analysed frame (null before the first). */
  lastAnalysisAt: number | null;
  /**
   * On a live stream and online, or restarting after a stall (no frame in time: on a
   * loaded box, a starved decoder). A file on the media clock is analysed at its own pace.
   */
  live: boolean;
  /** Wall-clock ms the camera's pipeline started (a camera never analysed is judged from it). */
  startedAt?: number;
}

/** A camera never analysed for this long after its start is starved: max(5 intervals, 30 s). */
const starvedAfterS = (l: CameraLoad) => Math.max(5 * l.intervalS, 30);

/** Live cameras never analysed, long past their interval. */
export function starved(loads: readonly CameraLoad[], now: number): CameraLoad[] {
  return loads.filter(
    (l) => l.live && l.lastAnalysisAt === null && l.startedAt !== undefined && (now - l.startedAt) / 1000 > starvedAfterS(l),
  );
}

export interface Behind {
  cameras: number;
  of: number;
  interval_s: number;
  analysis_interval_s: number;
  analyses_per_s: number;
  needed_per_s: number;
}

/** Achieved more than this times the wanted interval counts as behind. */
const SLACK = 1.5;

export class OverloadWatch {
  private strikes = 0;
  private clears = 0;
  /** The episode under way (null: keeping up). */
  current: Behind | null = null;
  private readonly o: { log: Logger; alert: (b: Behind, message: string) => void; cleared?: () => void };

  constructor(o: { log: Logger; alert: (b: Behind, message: string) => void; cleared?: () => void }) {
    this.o = o;
  }

  /** One check: the cameras' load and how many frames the detector gave up since the last check. */
  check(loads: readonly CameraLoad[], droppedSinceLast: number, now: number): Behind | null {
    const b = measure(loads, now);
    if (b && (droppedSinceLast > 0 || starved(loads, now).length > 0)) {
      this.clears = 0;
      if (++this.strikes >= 2 && !this.current) {
        this.current = b;
        const message = describe(b);
        this.o.log.warn({ behind: b }, message);
        this.o.alert(b, message);
      }
    } else {
      this.strikes = 0;
      if (this.current && ++this.clears >= 2) {
        this.current = null;
        this.o.log.info('detection keeps up with every camera again');
        this.o.cleared?.();
      }
    }
    return b;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The cameras behind (null if none), and the box's analyses per second against what is asked. */
export function measure(loads: readonly CameraLoad[], now: number): Behind | null {
  const never = new Set(starved(loads, now));
  const live = loads.filter((l) => l.live && (l.lastAnalysisAt !== null || never.has(l)));
  const achieved = (l: CameraLoad) =>
    never.has(l) ? (now - l.startedAt!) / 1000 : Math.max(l.analysisIntervalS ?? l.intervalS, (now - l.lastAnalysisAt!) / 1000);
  const behind = live.filter((l) => achieved(l) > SLACK * l.intervalS);
  if (!behind.length) return null;
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    cameras: behind.length,
    of: live.length,
    interval_s: round(median(behind.map((l) => l.intervalS))),
    analysis_interval_s: round(median(behind.map(achieved))),
    analyses_per_s: round(live.reduce((a, l) => a + 1 / achieved(l), 0)),
    needed_per_s: round(live.reduce((a, l) => a + 1 / l.intervalS, 0)),
  };
}

export function describe(b: Behind): string {
  const factor = b.analysis_interval_s / b.interval_s;
  const fit = Math.max(1, Math.floor((b.of * b.analyses_per_s) / b.needed_per_s));
  return (
    `overloaded: ${b.cameras} of ${b.of} cameras are analysed every ${b.analysis_interval_s} s instead of every ${b.interval_s} s ` +
    `(${factor.toFixed(1)}× behind; ${b.analyses_per_s} analyses/s done of ${b.needed_per_s} needed). ` +
    `Events still come, later. To keep up: put fewer cameras on this box (about ${fit} fit), ` +
    `set a longer interval_s, or use a lighter model.`
  );
}
