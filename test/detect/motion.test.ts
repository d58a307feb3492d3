/**
 * The P-frame still test (gateway/detect/motion.ts): it says quiet only after the camera's
 * thumbnail gate has shown it what still costs, only for windows as calm as that, never
 * where P-frames cost a good part of a picture (noise), and it trusts less after a miss.
 */
import { describe, expect, it } from 'vitest';
import { MotionLevel } from '../../gateway/detect/motion.ts';

const w = (perFrame: number, frames = 49, keyBytes = 30_000) => ({ bytes: perFrame * frames, frames, keyBytes });

describe('MotionLevel', () => {
  it('says nothing until it has learnt three still windows', () => {
    const m = new MotionLevel();
    expect(m.quiet(w(40))).toBe(false);
    m.learn(w(40), true);
    m.learn(w(42), true);
    expect(m.quiet(w(40))).toBe(false);
    m.learn(w(41), true);
    expect(m.quiet(w(40))).toBe(true);
  });

  it('calls quiet only what is as calm as the calmest still windows, plus a margin', () => {
    const m = new MotionLevel();
    for (const r of [200, 100, 120]) m.learn(w(r), true);
    // The level followed 100 down at once and rose only a little with 120.
    expect(m.quiet(w(150))).toBe(true);
    expect(m.quiet(w(200))).toBe(false); // a car driving in costs more
    // Changed pictures teach nothing about still ones.
    m.learn(w(5000), false);
    expect(m.quiet(w(150))).toBe(true);
  });

  it('never calls noise quiet: P-frames that cost over 5% of a key frame', () => {
    const m = new MotionLevel();
    for (let i = 0; i < 5; i++) m.learn(w(13_800, 4, 33_000), true);
    expect(m.quiet(w(13_800, 4, 33_000))).toBe(false);
  });

  it('needs at least two P-frames to judge a window', () => {
    const m = new MotionLevel();
    for (let i = 0; i < 3; i++) m.learn(w(40), true);
    expect(m.quiet({ bytes: 10, frames: 1, keyBytes: 30_000 })).toBe(false);
    expect(m.quiet({ bytes: 0, frames: 0, keyBytes: 30_000 })).toBe(false);
  });

  it('trusts less after a window it called quiet turned out changed', () => {
    const m = new MotionLevel();
    for (let i = 0; i < 3; i++) m.learn(w(100), true);
    expect(m.quiet(w(140))).toBe(true);
    m.learn(w(140), false); // the thumbnail saw a change there
    expect(m.misses).toBe(1);
    expect(m.quiet(w(140))).toBe(false);
    expect(m.quiet(w(60))).toBe(true);
  });
});
