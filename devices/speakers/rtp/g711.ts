/**
 * G.711 (ITU-T) A-law and µ-law, sample by sample. The gateway prepares audio in the law a
 * speaker asked for; when a SIP answer or an RTSP backchannel picks the other law, the
 * bytes are converted here through 256-entry tables instead of transcoding again.
 */
const A_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
const U_END = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];

export function linearToAlaw(sample: number): number {
  let v = sample >> 3;
  let mask = 0xd5;
  if (v < 0) [v, mask] = [-v - 1, 0x55];
  let seg = 0;
  while (seg < 8 && v > A_END[seg]) seg++;
  return seg === 8 ? 0x7f ^ mask : ((seg << 4) | ((seg < 2 ? v >> 1 : v >> seg) & 0x0f)) ^ mask;
}

export function linearToUlaw(sample: number): number {
  let v = sample >> 2;
  let mask = 0xff;
  if (v < 0) [v, mask] = [-v, 0x7f];
  v = Math.min(v, 8159) + 0x21;
  let seg = 0;
  while (seg < 8 && v > U_END[seg]) seg++;
  return seg === 8 ? 0x7f ^ mask : ((seg << 4) | ((v >> (seg + 1)) & 0x0f)) ^ mask;
}

export function alawToLinear(a: number): number {
  a ^= 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

export function ulawToLinear(u: number): number {
  u = ~u & 0xff;
  let t = ((u & 0x0f) << 3) + 0x84;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

let A2U: Uint8Array | undefined;
let U2A: Uint8Array | undefined;

/** Converts G.711 bytes from one law to the other (a no-op copy when they match). */
export function convertLaw(data: Buffer, from: 'pcma' | 'pcmu', to: 'pcma' | 'pcmu'): Buffer {
  if (from === to) return data;
  A2U ??= Uint8Array.from({ length: 256 }, (_, i) => linearToUlaw(alawToLinear(i)));
  U2A ??= Uint8Array.from({ length: 256 }, (_, i) => linearToAlaw(ulawToLinear(i)));
  const table = from === 'pcma' ? A2U : U2A;
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) out[i] = table[data[i]];
  return out;
}
