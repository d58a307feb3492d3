/** The overload judgement on its own: when it alerts, once per episode, and when it does not. */
import { describe, expect, it } from 'vitest';
import { OverloadWatch, type CameraLoad, type Behind } from '../../gateway/detect/overload.ts';
import { silentLogger } from '../../gateway/log.ts';

const NOW = 1_700_000_000_000;
const cams = (n: number, achievedS: number, ago = 1): CameraLoad[] =>
  Array.from({ length: n }, (_, i) => ({
    camera: `c${i}`,
    intervalS: 2,
    analysisIntervalS: achievedS,
    lastAnalysisAt: NOW - ago * 1000,
    live: true,
  }));

function watch() {
  const alerts: { b: Behind; message: string }[] = [];
  let cleared = 0;
  const w = new OverloadWatch({ log: silentLogger(), alert: (b, message) => alerts.push({ b, message }), cleared: () => cleared++ });
  return { w, alerts, cleared: () => cleared };
}

describe('OverloadWatch', () => {
  it('counts cameras never analysed long after their start as starved, and alerts without frames given up', () => {
    const { w, alerts } = watch();
    const never = (n: number, startedAgoS: number): CameraLoad[] =>
      Array.from({ length: n }, (_, i) => ({
        camera: `s${i}`,
        intervalS: 2,
        analysisIntervalS: null,
        lastAnalysisAt: null,
        live: true,
        startedAt: NOW - startedAgoS * 1000,
      }));
    // Just started: not judged yet (the first frames are on their way).
    w.check([...cams(2, 2), ...never(8, 20)], 0, NOW);
    w.check([...cams(2, 2), ...never(8, 20)], 0, NOW);
    expect(alerts).toHaveLength(0);
    // 60 s without a single analysis, and the detector gave nothing up (the decoders starve).
    w.check([...cams(2, 2), ...never(8, 60)], 0, NOW);
    w.check([...cams(2, 2), ...never(8, 60)], 0, NOW);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].b).toMatchObject({ cameras: 8, of: 10, interval_s: 2, analysis_interval_s: 60 });
    // Not live (offline, wrong password, a media-clock file): never counted.
    const { w: w2, alerts: a2 } = watch();
    const offline = never(8, 600).map((l) => ({ ...l, live: false }));
    w2.check([...cams(2, 2), ...offline], 0, NOW);
    w2.check([...cams(2, 2), ...offline], 0, NOW);
    expect(a2).toHaveLength(0);
  });

  it('alerts after two checks behind with frames given up, once per episode, and clears after two good ones', () => {
    const { w, alerts, cleared } = watch();
    w.check(cams(10, 10), 5, NOW);
    expect(alerts).toHaveLength(0);
    w.check(cams(10, 10), 5, NOW);
    w.check(cams(10, 10), 5, NOW);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].b).toEqual({ cameras: 10, of: 10, interval_s: 2, analysis_interval_s: 10, analyses_per_s: 1, needed_per_s: 5 });
    expect(alerts[0].message).toMatch(
      /10 of 10 cameras are analysed every 10 s instead of every 2 s \(5\.0× behind; 1 analyses\/s done of 5 needed\)/,
    );
    expect(alerts[0].message).toMatch(/about 2 fit/);
    w.check(cams(10, 2), 0, NOW);
    expect(cleared()).toBe(0);
    w.check(cams(10, 2), 0, NOW);
    expect(cleared()).toBe(1);
    w.check(cams(10, 10), 5, NOW);
    w.check(cams(10, 10), 5, NOW);
    expect(alerts).toHaveLength(2);
  });

  it('a starved camera counts as behind by the age of its last analysis', () => {
    const { w } = watch();
    const loads = [...cams(3, 2), ...cams(1, 2, 30).map((c) => ({ ...c, camera: 'starved' }))];
    expect(w.check(loads, 1, NOW)).toMatchObject({ cameras: 1, of: 4, analysis_interval_s: 30 });
  });

  it('no alert when cameras are slow but the detector gives nothing up (key frames rarer than interval_s), nor for files on the media clock', () => {
    const { w, alerts } = watch();
    for (let i = 0; i < 4; i++) w.check(cams(5, 4), 0, NOW);
    for (let i = 0; i < 4; i++)
      w.check(
        cams(5, 10).map((c) => ({ ...c, live: false })),
        3,
        NOW,
      );
    expect(alerts).toHaveLength(0);
  });
});
