/**
 * One camera's per-frame join. A frame goes to every model of the camera (each through
 * its own shared queue) and comes back from each at its own pace; the tracker must get
 * the frame's detections at once, as one list. The join holds each frame until every
 * model has answered, merges the answers (the labels are already in the shared
 * vocabulary: label_map), adds the frame's static-change regions, and hands it on.
 * A frame any model dropped or failed is dropped as a whole, and counted once.
 */
import type { Frame } from '../capture/camera.ts';
import { iou, type Box } from '../zones/geometry.ts';
import type { Detected } from './queue.ts';
import type { Detection } from './types.ts';
import { STATIC_CHANGE } from './static/detector.ts';

interface Entry {
  pending: number;
  lost: boolean;
  detections: Detection[];
}

export interface JoinOptions {
  /** Model ids the frame goes to. */
  models: number;
  /** A static-change region mostly covered by one of these classes is not reported. */
  ignoreForStatic: ReadonlySet<string>;
  deliver: (frame: Frame, detections: Detection[]) => void;
  /** Called once per frame that is dropped (a model dropped or failed it, or it came too late). */
  dropped: (frame: Frame) => void;
}

/** Two models reporting one object under one label: keep the surer. */
const SAME_OBJECT_IOU = 0.7;
/** Share of a static region a detection must cover to explain it away. */
const COVERED = 0.5;

export class FrameJoin {
  private readonly open = new Map<Frame, Entry>();
  private readonly o: JoinOptions;
  private lastTs = -Infinity;

  constructor(o: JoinOptions) {
    this.o = o;
  }

  /** Starts a frame, with the detections already known for it (static change). */
  start(frame: Frame, known: readonly Detection[]): void {
    if (this.o.models === 0) return this.finish(frame, { pending: 0, lost: false, detections: known.slice() });
    this.open.set(frame, { pending: this.o.models, lost: false, detections: known.slice() });
  }

  result(r: Detected): void {
    const e = this.open.get(r.frame);
    if (!e) return;
    if (!e.lost) for (const d of r.detections) if (d.label) e.detections.push(d);
    if (--e.pending === 0) this.finish(r.frame, e);
  }

  /** A model dropped the frame (it fell behind) or failed on it. Returns true the first time. */
  lost(frame: Frame): boolean {
    const e = this.open.get(frame);
    if (!e) return false;
    const first = !e.lost;
    e.lost = true;
    if (--e.pending === 0) this.finish(frame, e);
    return first;
  }

  /** Frames still waiting for a model (a handful at most: the capture has three buffers). */
  get waiting(): number {
    return this.open.size;
  }

  private finish(frame: Frame, e: Entry): void {
    this.open.delete(frame);
    // Models answer in order per camera, but a frame must never take the tracker back in time.
    if (e.lost || frame.ts < this.lastTs) return this.o.dropped(frame);
    this.lastTs = frame.ts;
    this.o.deliver(frame, this.merge(e.detections));
  }

  private merge(all: Detection[]): Detection[] {
    const keep: Detection[] = [];
    const statics: Detection[] = [];
    for (const d of all) (d.label === STATIC_CHANGE ? statics : keep).push(d);
    if (this.o.models > 1) dedupe(keep);
    for (const s of statics) {
      const explained = keep.some((d) => this.o.ignoreForStatic.has(d.label) && coverage(s.box, d.box) >= COVERED);
      if (!explained) keep.push(s);
    }
    return keep;
  }
}

function dedupe(dets: Detection[]): void {
  dets.sort((a, b) => b.score - a.score);
  for (let i = 0; i < dets.length; i++)
    for (let j = dets.length - 1; j > i; j--)
      if (dets[j].label === dets[i].label && iou(dets[i].box, dets[j].box) >= SAME_OBJECT_IOU) dets.splice(j, 1);
}

/** How much of `a` lies inside `b`. */
function coverage(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const area = (a[2] - a[0]) * (a[3] - a[1]);
  return area > 0 ? (ix * iy) / area : 0;
}

/**
 * One frame shared by `n` consumers: its buffer goes back to the capture pool when the
 * last of them releases it.
 */
export function shareFrame(f: Frame, n: number): Frame {
  let left = n;
  return {
    camera: f.camera,
    ts: f.ts,
    width: f.width,
    height: f.height,
    data: f.data,
    release() {
      if (--left === 0) f.release();
    },
  };
}
