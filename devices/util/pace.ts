/**
 * Real-time pacing for audio: chunk i goes out at start + i * period, so timer lateness
 * never accumulates (speakers have small jitter buffers and play what arrives).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export async function paced<T>(chunks: Iterable<T>, periodMs: number, send: (chunk: T, index: number) => void | Promise<void>, signal?: AbortSignal): Promise<number> {
  const start = performance.now();
  let i = 0;
  for (const chunk of chunks) {
    signal?.throwIfAborted();
    const due = start + i * periodMs;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait, undefined, { signal });
    await send(chunk, i);
    i++;
  }
  return performance.now() - start;
}

export function* slices(data: Buffer, size: number): Generator<Buffer> {
  for (let off = 0; off < data.length; off += size) yield data.subarray(off, Math.min(off + size, data.length));
}
