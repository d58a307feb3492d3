/** Test audio: a G.711 tone of known length, and measures of what a peer received. */
import type { Audio } from '../../devices/speakers/types.ts';
import { linearToAlaw, linearToUlaw } from '../../devices/speakers/rtp/g711.ts';

/** A 440 Hz tone at 8 kHz, G.711-encoded: one byte per sample. */
export function tone(codec: 'pcma' | 'pcmu', seconds: number, amplitude = 12000): Audio {
  const n = Math.round(8000 * seconds);
  const encode = codec === 'pcma' ? linearToAlaw : linearToUlaw;
  const data = Buffer.alloc(n);
  for (let i = 0; i < n; i++) data[i] = encode(Math.round(amplitude * Math.sin((2 * Math.PI * 440 * i) / 8000)));
  return { codec, sampleRate: 8000, channels: 1, data, durationMs: seconds * 1000 };
}

/** RMS level in dBFS of 16-bit samples; silence is -90 or lower. */
export function dbfs(pcm: Int16Array): number {
  if (!pcm.length) return -Infinity;
  let sum = 0;
  for (const v of pcm) sum += v * v;
  return 20 * Math.log10(Math.sqrt(sum / pcm.length) / 32768);
}

/** Samples from a canonical 16-bit WAV (or raw s16le when there is no RIFF header). */
export function wavSamples(buf: Buffer): Int16Array {
  let off = 0;
  if (buf.subarray(0, 4).toString() === 'RIFF') {
    off = 12;
    while (off + 8 <= buf.length && buf.subarray(off, off + 4).toString() !== 'data') off += 8 + buf.readUInt32LE(off + 4);
    off += 8;
  }
  const data = buf.subarray(off);
  return new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + (data.length & ~1)));
}
