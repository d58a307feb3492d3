/**
 * Real-time pacing for audio: chunk i goes out at start + i * period, so timer lateness
 * never accumulates (speakers have small jitter buffers and play what arrives).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export async function paced<T>(
  chunks: Iterable<T>,
  periodMs: number,
  send: (chunk: T, index: number) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<number> {
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

/**
 * Yields `data` in chunkMs slices at real-time pace for a device with a tiny jitter buffer.
 * Each slice is due at start + its media time (minus a small lead), so timer lateness never
 * accumulates into drift.
 */
export async function* pacedBody(
  data: Buffer,
  bytesPerSecond: number,
  opts: { chunkMs?: number; leadMs?: number; signal?: AbortSignal } = {},
): AsyncGenerator<Buffer> {
  const chunk = Math.max(1, Math.round((bytesPerSecond * (opts.chunkMs ?? 20)) / 1000));
  const lead = opts.leadMs ?? 40;
  const start = performance.now();
  for (let off = 0; off < data.length; off += chunk) {
    const wait = start + (off * 1000) / bytesPerSecond - lead - performance.now();
    if (wait > 1) await sleep(wait, undefined, { signal: opts.signal });
    else opts.signal?.throwIfAborted();
    yield data.subarray(off, off + chunk);
  }
}
