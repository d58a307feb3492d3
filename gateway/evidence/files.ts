/** Writing evidence files so that a stored row never names a half-written file, and G.711 as WAV. */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AudioCodec } from '../../devices/speakers/types.ts';

export function writeDurable(path: string, data: Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o640);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true }); // a full disk must not keep the half file
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
