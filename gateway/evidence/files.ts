/** Writing evidence files so that a stored row never names a half-written file, and G.711 as WAV. */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AudioCodec } from '../../devices/speakers/types.ts';

/**
 * Written whole or not at all (a temporary file, fsync, rename), on libuv's threads: the
 * fsync of an event's pictures and clip must not hold up the event loop that carries
 * every camera's frames and the warnings' RTP.
 */
export async function writeDurableAsync(path: string, data: Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  try {
    const fh = await open(tmp, 'w', 0o640);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }); // a full disk must not keep the half file
    throw e;
  }
}

/**
 * The warning exactly as sent to the speaker: the G.711 (or PCM) samples in a WAV
 * container, not transcoded, so its hash is of what was played.
 */
export function wavOf(codec: AudioCodec, sampleRate: number, data: Buffer): Buffer {
  const format = codec === 'pcmu' ? 7 : codec === 'pcma' ? 6 : 1;
  const bits = format === 1 ? 16 : 8;
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(format, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE((sampleRate * bits) / 8, 28);
  h.writeUInt16LE(bits / 8, 32);
  h.writeUInt16LE(bits, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}
