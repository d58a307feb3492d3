/**
 * Bare inference load, as a child process so its CPU is measured on its own: one
 * onnxruntime session with the gateway's options (detector.threads, spin), `session.run`
 * on a padded 416x416 picture (grey 114, YOLOX's letterbox colour) at a fixed rate. No
 * pre- or postprocessing: the floor under the gateway's detection. Prints READY after the
 * warm-up; on SIGTERM prints {"runs":N,"seconds":S} and exits.
 *
 *   node --import tsx scripts/bench/ort-load.ts --model FILE --rate 16 [--threads 2] [--spin true] [--size 416x416]
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    rate: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    spin: { type: 'string', default: 'true' },
    size: { type: 'string', default: '416x416' },
  },
});
const [w, h] = values.size!.split('x').map(Number);
const session = await ort.InferenceSession.create(values.model!, {
  intraOpNumThreads: Number(values.threads),
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
  extra: { session: { intra_op: { allow_spinning: values.spin === 'false' ? '0' : '1' } } },
});
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', new Float32Array(3 * w * h).fill(114), [1, 3, h, w]) };
for (let i = 0; i < 3; i++) await session.run(feeds);

const rate = Number(values.rate);
let runs = 0;
let stopping = false;
const t0 = performance.now();
process.on('SIGTERM', () => {
  stopping = true;
  process.stdout.write(`${JSON.stringify({ runs, seconds: (performance.now() - t0) / 1000 })}\n`, () => process.exit(0));
});
process.stdout.write('READY\n');
// Runs are due at fixed times; one that falls behind runs at once (no skipping), so the
// achieved rate shows whether this CPU can do the needed rate at all.
while (!stopping) {
  const due = t0 + (runs * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  if (stopping) break;
  await session.run(feeds);
  runs++;
}
