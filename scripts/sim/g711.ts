/** G.711 helpers for the recording speaker and the tests' checks. */
import { alawToLinear, ulawToLinear } from '../../devices/speakers/rtp/g711.ts';

export { alawToLinear, ulawToLinear };

export function decode(data: Buffer, codec: 'pcma' | 'pcmu'): Int16Array {
  const f = codec === 'pcma' ? alawToLinear : ulawToLinear;
  const out = new Int16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = f(data[i]);
  return out;
}

/** Root-mean-square level in dBFS; silence is about -90 or lower. */
export function rmsDbfs(pcm: Int16Array): number {
  if (!pcm.length) return -Infinity;
  let sum = 0;
  for (const v of pcm) sum += v * v;
  return 20 * Math.log10(Math.sqrt(sum / pcm.length) / 32768);
}

/** A WAV file holding G.711 as is (format 6 = A-law, 7 = µ-law): playable everywhere. */
export function g711Wav(data: Buffer, codec: 'pcma' | 'pcmu', rate = 8000): Buffer {
  const h = Buffer.alloc(46);
  h.write('RIFF', 0);
  h.writeUInt32LE(38 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(18, 16);
  h.writeUInt16LE(codec === 'pcma' ? 6 : 7, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate, 28);
  h.writeUInt16LE(1, 32);
  h.writeUInt16LE(8, 34);
  h.writeUInt16LE(0, 36);
  h.write('data', 38);
  h.writeUInt32LE(data.length, 42);
  return Buffer.concat([h, data]);
}
