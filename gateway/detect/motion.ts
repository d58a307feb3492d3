/**
 * The cheapest still test, before a key frame is even decoded: how many bytes the encoder
 * spent on the P-frames since the last decoded key frame. A camera's encoder spends few
 * on a picture that does not change and many on a car driving in; what "few" is depends
 * on the camera (bitrate, noise, a tree in the wind), so each camera learns its own level
 * from the windows the thumbnail gate (gate.ts) then called still.
 *
 * It is careful in one direction only. A window is quiet when its P-frames are small beside
 * a whole picture (at most `maxShare` of the key frame's bytes: in rain or sensor noise
 * every P-frame costs a good part of a key frame, and a car driving in adds too little to
 * tell), and within `margin` of the camera's calm level (a low running level: it follows calm windows
 * down at once, busier ones up slowly), so a busy stretch outside the zones, rain, or a
 * car anywhere in the picture sends the frame on to be decoded and to the thumbnail, which
 * looks only inside the zones. A window it called quiet that the thumbnail then saw change
 * (it is checked every time a frame is decoded anyway) halves the level: it trusts less.
 */
import type { Motion } from '../../devices/ffmpeg/frames.ts';

export class MotionLevel {
  /** The camera's calm level, bytes per P-frame; null until learnt. */
  private level: number | null = null;
  private learnt = 0;
  private readonly margin: number;
  private readonly slack: number;
  private readonly minLearnt: number;
  private readonly maxShare: number;
  /** Windows called quiet that the thumbnail saw change (for tests and status). */
  misses = 0;

  constructor(o: { margin?: number; slack?: number; minLearnt?: number; maxShare?: number } = {}) {
    this.maxShare = o.maxShare ?? 0.05;
    this.margin = o.margin ?? 1.5;
    this.slack = o.slack ?? 32;
    this.minLearnt = o.minLearnt ?? 3;
  }

  /** Bytes per P-frame of a window (null: too few packets to say). */
  private static rate(m: Motion): number | null {
    return m.frames >= 2 ? m.bytes / m.frames : null;
  }

  /** Whether the window is as calm as the camera's still pictures were. */
  quiet(m: Motion): boolean {
    const r = MotionLevel.rate(m);
    if (r === null || this.level === null || this.learnt < this.minLearnt) return false;
    if (r > m.keyBytes * this.maxShare) return false;
    return r <= this.level * this.margin + this.slack;
  }

  /** A decoded frame's window, and whether the thumbnail gate found its picture still. */
  learn(m: Motion, still: boolean): void {
    const r = MotionLevel.rate(m);
    if (r === null) return;
    if (!still) {
      if (this.quiet(m)) {
        this.misses++;
        if (this.level !== null) this.level /= 2;
      }
      return;
    }
    this.learnt++;
    if (this.level === null || r < this.level) this.level = r;
    else this.level += 0.05 * (r - this.level);
  }
}
