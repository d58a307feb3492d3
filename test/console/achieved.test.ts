/** The console's achieved-interval flag: orange once a camera is analysed less than half as often as set. */
import { describe, expect, it } from 'vitest';
import { achieved } from '../../gateway/console/api.ts';
import type { CameraHealth } from '../../gateway/capture/health.ts';

const health = (analysisIntervalS: number | null) => ({ analysisIntervalS }) as CameraHealth;

describe('achieved analysis interval', () => {
  it('is flagged only above twice the set interval', () => {
    expect(achieved(2, health(2.1))).toEqual({ analysis_interval_s: 2.1, behind: false });
    expect(achieved(2, health(4))).toEqual({ analysis_interval_s: 4, behind: false });
    expect(achieved(2, health(4.1))).toEqual({ analysis_interval_s: 4.1, behind: true });
    expect(achieved(1, health(null))).toEqual({ analysis_interval_s: null, behind: false });
    expect(achieved(1, undefined)).toEqual({ analysis_interval_s: null, behind: false });
  });
});
