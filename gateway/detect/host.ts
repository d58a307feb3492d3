/**
 * A model in its own worker thread, behind the same Detector interface as an in-thread
 * Model. Frames whose bytes live in a SharedArrayBuffer (the capture pool allocates them
 * so) reach the worker without a copy; other frames are copied once. If the worker dies,
 * the calls waiting on it fail, and it is started again with growing pauses.
 */
import { Worker } from 'node:worker_threads';
import type { Manifest } from './manifest.ts';
import { backoffDelay } from '../backoff.ts';
import { ModelError, type ModelOptions } from './model.ts';
import type { Detection, Detector, FrameLike, RunTiming } from './types.ts';
import type { FromWorker, ToWorker, WorkerInit } from './worker.ts';

// A small JS entry that registers tsx in the worker, then loads worker.ts.
const WORKER = new URL('./worker-boot.mjs', import.meta.url);

interface Pending {
  resolve: (d: Detection[][]) => void;
  reject: (e: Error) => void;
  timing?: RunTiming;
  sentAt: number;
}

export class ModelHost implements Detector {
  readonly manifest: Manifest;
  maxBatch = 1;
  /** Why the worker is not usable right now (null while it is). */
  down: string | null = 'starting';
  restarts = 0;
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  private readonly init: WorkerInit;
  private readonly onDown: (reason: string | null) => void;

  private constructor(init: WorkerInit, onDown: (reason: string | null) => void) {
    this.init = init;
    this.manifest = init.manifest;
    this.onDown = onDown;
  }

  /** Starts the worker and waits until the model is loaded and checked (or failed). */
  static async load(
    manifest: Manifest,
    filesDir: string,
    threads: number,
    options: ModelOptions = {},
    onDown: (reason: string | null) => void = () => {},
  ): Promise<ModelHost> {
    const host = new ModelHost({ manifest, filesDir, threads, options }, onDown);
    await host.spawn();
    return host;
  }

  private spawn(): Promise<void> {
    return new Promise((ok, fail) => {
      const w = new Worker(WORKER, { workerData: this.init, name: `model ${this.manifest.id}` });
      this.worker = w;
      let ready = false;
      w.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          ready = true;
          this.maxBatch = m.maxBatch;
          this.down = null;
          this.onDown(null);
          ok();
        } else if (m.type === 'failed') {
          this.stopped = true; // a model that cannot load will not load on a retry either
          this.down = m.message;
          this.onDown(m.message);
          fail(new ModelError(m.message));
          w.postMessage({ type: 'exit', code: 0 } satisfies ToWorker);
        } else if (m.type === 'result' || m.type === 'error') {
          const p = this.pending.get(m.id);
          if (!p) return;
          this.pending.delete(m.id);
          if (m.type === 'error') return p.reject(new Error(m.message));
          if (p.timing) {
            Object.assign(p.timing, m.timing);
            p.timing.ipcMs = Math.max(0, performance.now() - p.sentAt - m.busyMs);
          }
          p.resolve(m.detections as Detection[][]);
        }
      });
      w.on('error', (e) => {
        if (!ready) fail(new ModelError(`model "${this.manifest.id}": worker failed: ${e.message}`));
        this.lost(`worker crashed: ${e.message}`);
      });
      w.on('exit', (code) => {
        if (!ready) fail(new ModelError(`model "${this.manifest.id}": worker exited (${code}) before the model loaded`));
        if (this.worker === w) this.lost(`worker exited with code ${code}`);
      });
    });
  }

  private lost(reason: string): void {
    this.worker = null;
    for (const p of this.pending.values()) p.reject(new Error(`model "${this.manifest.id}": ${reason}`));
    this.pending.clear();
    if (this.stopped) return;
    this.down = reason;
    this.onDown(reason);
    this.restarts++;
    const delay = backoffDelay(this.restarts - 1, 1000, 60_000);
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.stopped) this.spawn().catch(() => undefined);
    }, delay);
    this.retry.unref();
  }

  detectBatch(frames: readonly FrameLike[], timing?: RunTiming): Promise<Detection[][]> {
    const w = this.worker;
    if (!w || this.down) return Promise.reject(new Error(`model "${this.manifest.id}": ${this.down ?? 'stopped'}`));
    const id = this.nextId++;
    const transfer: ArrayBuffer[] = [];
    const sent: FrameLike[] = frames.map((f) => {
      if (f.data.buffer instanceof SharedArrayBuffer) return { data: f.data, width: f.width, height: f.height };
      // Not shareable: send a copy of just these bytes, moved rather than cloned again.
      const copy = f.data.slice();
      transfer.push(copy.buffer as ArrayBuffer);
      return { data: copy, width: f.width, height: f.height };
    });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, timing, sentAt: performance.now() });
      w.postMessage({ type: 'run', id, frames: sent } satisfies ToWorker, transfer);
    });
  }

  async release(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const w = this.worker;
    this.worker = null;
    if (!w) return;
    await new Promise<void>((ok) => {
      // Never terminate(): inside a native run it aborts the whole process. A worker still
      // busy after 3 s is left to end by itself once its run returns, holding nothing open.
      const force = setTimeout(() => {
        w.unref();
        ok();
      }, 3000);
      w.once('exit', () => {
        clearTimeout(force);
        ok();
      });
      w.postMessage({ type: 'release' } satisfies ToWorker);
    });
  }
}
