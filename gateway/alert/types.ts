import type { DeviceErrorCode } from '../../devices/errors.ts';

export interface WarningOutcome {
  eventId: string | null;
  speaker: string;
  outcome: 'played' | 'failed' | 'skipped';
  /** For failures: unreachable, rejected, auth, codec, ... */
  code: DeviceErrorCode | 'no_audio' | 'quiet_hours' | 'rate_limited' | null;
  reason: string | null;
  text: string;
  durationMs: number;
  at: number;
  /** 0 for the first warning, 1.. for the firmer repeats. */
  repeat?: number;
}
