/** Runs CameraCapture on its own (no detector), recording frames and health changes. */
import { CameraCapture, type Frame } from '../../gateway/capture/camera.ts';
import type { CameraHealth } from '../../gateway/capture/health.ts';
import { Camera, type CameraSettings } from '../../gateway/settings/schema.ts';
import { compile } from '../../gateway/validate.ts';
import { silentLogger } from '../../gateway/log.ts';

/** A camera's settings with every default the schema gives, as the loader would make them. */
export function cameraSettings(o: Partial<CameraSettings> & { id: string; url: string }): CameraSettings {
  const c = structuredClone({ location: { lat: 0, lon: 0 }, interval_s: 0.5, ...o });
  if (!compile(Camera, true)(c)) throw new Error(`bad test camera: ${JSON.stringify(compile(Camera, true).errors)}`);
  return c as CameraSettings;
}

export interface Watched {
  capture: CameraCapture;
  frames: { ts: number; width: number; height: number }[];
  health: CameraHealth[];
  /** Resolves when a health report matches. */
  until(pred: (h: CameraHealth) => boolean, timeoutMs: number, what: string): Promise<CameraHealth>;
  /** Resolves when `n` more frames arrived. */
  frames_(n: number, timeoutMs: number): Promise<void>;
}

export function watch(camera: CameraSettings, o: { backoff?: { baseMs: number; maxMs: number }; offlineAfter?: number } = {}): Watched {
  const frames: Watched['frames'] = [];
  const health: CameraHealth[] = [];
  const waiters: (() => void)[] = [];
  const poke = () => waiters.splice(0).forEach((w) => w());
  const capture = new CameraCapture({
    camera,
    width: 416,
    height: 416,
    fit: 'fit',
    log: silentLogger(),
    backoff: o.backoff ?? { baseMs: 300, maxMs: 1500 },
    offlineAfter: o.offlineAfter,
    onFrame: (f: Frame) => {
      frames.push({ ts: f.ts, width: f.width, height: f.height });
      f.release();
      poke();
    },
    onHealth: (h) => {
      health.push(h);
      poke();
    },
  });
  const wait = (test: () => boolean, timeoutMs: number, what: string) =>
    new Promise<void>((ok, fail) => {
      const t = setTimeout(
        () =>
          fail(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${what}; health: ${JSON.stringify(health.map((h) => [h.state, h.reason]))}`,
            ),
          ),
        timeoutMs,
      );
      const check = () => (test() ? (clearTimeout(t), ok()) : waiters.push(check));
      check();
    });
  return {
    capture,
    frames,
    health,
    async until(pred, timeoutMs, what) {
      const from = health.length;
      await wait(() => health.slice(from).some(pred), timeoutMs, what);
      return health.slice(from).find(pred)!;
    },
    async frames_(n, timeoutMs) {
      const from = frames.length;
      await wait(() => frames.length >= from + n, timeoutMs, `${n} frames`);
    },
  };
}
