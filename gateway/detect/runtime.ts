/**
 * The detection runtime: one session per model, shared by every camera that names it,
 * each in its own worker thread with its own bounded queue. A model that cannot load
 * (missing or corrupt weights, wrong input shape, labels that do not match the outputs)
 * is reported by name and fails only the cameras that use it.
 */
import type { Settings, CameraSettings } from '../settings/schema.ts';
import type { Logger } from '../log.ts';
import { loadManifest, type Manifest } from './manifest.ts';
import { Model } from './model.ts';
import { ModelHost } from './host.ts';
import { DetectQueue, type QueueStats } from './queue.ts';
import type { Detector } from './types.ts';
import { cameraModelIds } from './camera.ts';
import { threading } from './threading.ts';

/** Results go straight to each frame's camera (the sink it pushed with); only model state comes here. */
export interface RuntimeRoutes {
  /** A model went down (worker crashed) or came back (reason null). */
  onModelState?: (model: string, reason: string | null) => void;
}

export interface CameraDetection {
  queues: DetectQueue[];
  /** Models of this camera that failed, with the reason. */
  failed: { model: string; reason: string }[];
  /** The frame size the capture scales to: fits the largest model; smaller ones resample. */
  input: { width: number; height: number; fit: 'fit' | 'stretch' };
}

export class DetectorRuntime {
  readonly models = new Map<string, { detector: Detector; queue: DetectQueue }>();
  /** Model id → why it is not running (load failure, or a worker that is down). */
  readonly failures = new Map<string, string>();
  private readonly settings: Settings;

  private constructor(settings: Settings) {
    this.settings = settings;
  }

  static async start(o: {
    settings: Settings;
    modelsDir: string;
    filesDir: string;
    log: Logger;
    routes: RuntimeRoutes;
  }): Promise<DetectorRuntime> {
    const s = o.settings;
    const rt = new DetectorRuntime(s);
    const ids = new Set(s.cameras.filter((c) => c.enabled).flatMap((c) => cameraModelIds(c, s.detector.model)));
    // Loaded side by side: each load is mostly file hashing and graph optimisation.
    await Promise.all(
      [...ids].map(async (id) => {
        try {
          const manifest = loadManifest(id, o.modelsDir);
          const detector = await rt.load(manifest, o.filesDir, o.routes);
          // A camera has at most one frame waiting (a newer one replaces it): room for one
          // per camera means a burst of key frames (cameras in step) waits its turn instead
          // of being dropped while the model sits idle after it.
          const users = s.cameras.filter((c) => c.enabled && cameraModelIds(c, s.detector.model).includes(id)).length;
          const queue = new DetectQueue({ model: detector, capacity: s.detector.queue ?? Math.max(8, users) });
          rt.models.set(id, { detector, queue });
          o.log.info(
            {
              model: id,
              input: `${manifest.input.width}x${manifest.input.height}`,
              decoder: manifest.output.decoder,
              batch: detector.maxBatch,
            },
            'model loaded',
          );
        } catch (e) {
          rt.failures.set(id, (e as Error).message);
          o.log.error({ model: id, err: e }, 'model failed to load; its cameras are marked detector-failed');
        }
      }),
    );
    return rt;
  }

  private load(manifest: Manifest, filesDir: string, routes: RuntimeRoutes): Promise<Detector> {
    const d = this.settings.detector;
    const { threads, spin } = threading(d, this.settings.cameras.filter((c) => c.enabled).length);
    const options = { batch: d.batch, resample: true, spin };
    if (!d.worker_threads) return Model.load(manifest, filesDir, threads, options);
    return ModelHost.load(manifest, filesDir, threads, options, (reason) => {
      if (reason) this.failures.set(manifest.id, reason);
      else this.failures.delete(manifest.id);
      routes.onModelState?.(manifest.id, reason);
    });
  }

  forCamera(cam: CameraSettings): CameraDetection {
    const ids = cameraModelIds(cam, this.settings.detector.model);
    const queues: DetectQueue[] = [];
    const failed: CameraDetection['failed'] = [];
    const manifests: Manifest[] = [];
    for (const id of ids) {
      const m = this.models.get(id);
      if (m) {
        queues.push(m.queue);
        manifests.push(m.detector.manifest);
      } else failed.push({ model: id, reason: this.failures.get(id) ?? 'not loaded' });
    }
    return { queues, failed, input: captureSize(manifests) };
  }

  /** Why the camera's detection is impaired now (load failures and workers that are down). */
  failureOf(cam: CameraSettings): { model: string; reason: string }[] {
    return cameraModelIds(cam, this.settings.detector.model).flatMap((id) =>
      this.failures.has(id) ? [{ model: id, reason: this.failures.get(id)! }] : [],
    );
  }

  stats(): Record<string, QueueStats> {
    return Object.fromEntries([...this.models].map(([id, m]) => [id, m.queue.getStats()]));
  }

  async stop(): Promise<void> {
    for (const { queue } of this.models.values()) queue.clear();
    await Promise.all(
      [...this.models.values()].map(async ({ queue, detector }) => {
        await queue.settled();
        await detector.release().catch(() => undefined);
      }),
    );
  }
}

/**
 * Capture scales each frame once. With several models that is the largest input (the
 * others resample it in their preprocessing); stretched only when every model stretches.
 */
export function captureSize(manifests: readonly Manifest[]): CameraDetection['input'] {
  if (!manifests.length) return { width: 416, height: 416, fit: 'fit' };
  const width = Math.max(...manifests.map((m) => m.input.width));
  const height = Math.max(...manifests.map((m) => m.input.height));
  return { width, height, fit: manifests.every((m) => m.input.resize === 'stretch') ? 'stretch' : 'fit' };
}
