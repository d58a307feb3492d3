/**
 * The warning rules the event service follows, built once from the settings: quiet hours
 * per site or camera, the per-zone rate limit, repeats with the firmer wording, and the
 * variables a message may name.
 */
import type { Settings } from '../settings/schema.ts';
import { ZoneRateLimiter } from './schedule.ts';
import { CATALOGUE, type ViolationType } from '../rules/catalogue.ts';
import type { Variables } from './messages.ts';
import type { Clock } from '../clock.ts';

export interface WarningPolicy {
  timeZone: string;
  quietHours(camera: string): readonly string[];
  limiter: ZoneRateLimiter;
  rateMaxWaitMs: number;
  repeatCount: number;
  repeatIntervalMs: number;
  /** A clip path as configured, resolved against the settings file. */
  resolveClip(path: string | undefined): string | undefined;
  variables(camera: string, zoneName: string, type: ViolationType): Variables;
}

export function warningPolicy(s: Settings, resolvePath: (p: string) => string, clock?: Clock): WarningPolicy {
  const w = s.warnings;
  const cams = new Map(s.cameras.map((c) => [c.id, c]));
  return {
    timeZone: s.gateway.timezone,
    quietHours: (camera) => cams.get(camera)?.quiet_hours ?? w.quiet_hours,
    limiter: new ZoneRateLimiter(w.rate_limit.max, w.rate_limit.window_s * 1000, clock),
    rateMaxWaitMs: w.rate_limit.max_wait_s * 1000,
    repeatCount: w.repeat.count,
    repeatIntervalMs: w.repeat.interval_s * 1000,
    resolveClip: (p) => (p ? resolvePath(p) : undefined),
    variables: (camera, zoneName, type) => {
      const c = cams.get(camera);
      return { place: c?.place ?? c?.name ?? '', camera: c?.name ?? camera, zone: zoneName, type_zh: CATALOGUE[type].zh };
    },
  };
}
