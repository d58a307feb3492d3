/** What the gateway knows about one camera's stream, published retained on MQTT. */
import type { DeviceErrorCode } from '../../devices/errors.ts';

export type CameraState = 'starting' | 'online' | 'reconnecting' | 'offline' | 'disabled';

export interface CameraHealth {
  camera: string;
  state: CameraState;
  /** Why it is not online, in words a technician understands. */
  reason: string | null;
  code: DeviceErrorCode | null;
  since: number;
  lastFrameAt: number | null;
  /** Analysed frames in the last minute. */
  framesPerMinute: number;
  restarts: number;
  /** Frames skipped because every buffer was busy or the detector fell behind. */
  dropped: number;
  width: number | null;
  height: number | null;
  /** Median seconds between analysed frames, recently (null before two; absent from capture alone). */
  analysisIntervalS?: number | null;
  /** Time stamp of the last analysed frame. */
  lastAnalysisAt?: number | null;
  /** Frames the still gate kept from inference (a still picture, nothing pending). */
  stillSkipped?: number;
  /** Of those, the ones never decoded (the encoder's P-frames said the picture was still). */
  quietSkipped?: number;
}

/** Counts events in a sliding window of `windowMs`, cheaply (a ring of timestamps). */
export class RateWindow {
  private readonly stamps: number[] = [];
  private readonly windowMs: number;

  constructor(windowMs = 60_000) {
    this.windowMs = windowMs;
  }

  add(ts: number): void {
    this.stamps.push(ts);
    this.trim(ts);
  }

  count(now: number): number {
    this.trim(now);
    return this.stamps.length;
  }

  private trim(now: number): void {
    let i = 0;
    while (i < this.stamps.length && this.stamps[i] <= now - this.windowMs) i++;
    if (i) this.stamps.splice(0, i);
  }
}
