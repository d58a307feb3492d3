/**
 * The worker thread that hosts one model (see host.ts). onnxruntime-node's session.run
 * blocks the thread that calls it; here it blocks only this one, and the main thread
 * stays free for MQTT, RTP pacing and timers. Preprocessing, decoding and NMS happen
 * here too, so the main thread's share of a frame is one postMessage each way.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Model, type ModelOptions } from './model.ts';
import type { Manifest } from './manifest.ts';
import type { FrameLike, RunTiming } from './types.ts';

export interface WorkerInit {
  manifest: Manifest;
  filesDir: string;
  threads: number;
  options: ModelOptions;
}

/**
 * `exit` leaves at once with that code, between two runs. It is how a worker is made to end
 * now: Worker.terminate() that lands inside onnxruntime's native run aborts the whole
 * process (node-addon-api throws from a terminating environment), gateway included.
 */
export type ToWorker = { type: 'run'; id: number; frames: FrameLike[] } | { type: 'release' } | { type: 'exit'; code: number };
export type FromWorker =
  | { type: 'ready'; maxBatch: number }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; detections: unknown[][]; timing: RunTiming; busyMs: number }
  | { type: 'error'; id: number; message: string }
  | { type: 'released' };

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (m: FromWorker) => port.postMessage(m);

let model: Model | null = null;
let turn: Promise<void> = Promise.resolve();
try {
  model = await Model.load(init.manifest, init.filesDir, init.threads, init.options);
  post({ type: 'ready', maxBatch: model.maxBatch });
} catch (e) {
  post({ type: 'failed', message: (e as Error).message });
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'exit') process.exit(m.code);
  if (m.type === 'release') {
    // After the run in progress and those already queued: a session released under a run
    // would fail it, or worse.
    const done = turn.then(() => model?.release());
    void done.finally(() => {
      post({ type: 'released' });
      port.close();
    });
    return;
  }
  if (!model) return post({ type: 'error', id: m.id, message: 'model not loaded' });
  const loaded = model;
  // One run at a time (a session is not re-entrant): requests that arrive meanwhile wait
  // their turn here rather than fail, whoever sends them.
  turn = turn.then(() => {
    const t0 = performance.now();
    const timing: RunTiming = { preMs: 0, inferMs: 0, postMs: 0 };
    return loaded.detectBatch(m.frames, timing).then(
      (detections) => post({ type: 'result', id: m.id, detections, timing, busyMs: performance.now() - t0 }),
      (e: Error) => post({ type: 'error', id: m.id, message: e.message }),
    );
  });
});
