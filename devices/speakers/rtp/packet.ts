/** RTP (RFC 3550) fixed header for audio. Payload types are the static ones of RFC 3551. */
export const PAYLOAD_TYPE = { pcmu: 0, pcma: 8 } as const;

export interface RtpState {
  ssrc: number;
  seq: number;
  timestamp: number;
}

export function newRtpState(): RtpState {
  // Random starting values, as RFC 3550 asks, so a receiver can tell streams apart.
  return { ssrc: (Math.random() * 0xffffffff) >>> 0, seq: (Math.random() * 0xffff) >>> 0, timestamp: (Math.random() * 0xffffffff) >>> 0 };
}

/** Writes one packet; `marker` flags the first packet of a talkspurt. */
export function rtpPacket(st: RtpState, pt: number, payload: Buffer, samples: number, marker: boolean): Buffer {
  const p = Buffer.allocUnsafe(12 + payload.length);
  p[0] = 0x80; // version 2, no padding, no extension, no CSRC
  p[1] = (marker ? 0x80 : 0) | (pt & 0x7f);
  p.writeUInt16BE(st.seq, 2);
  p.writeUInt32BE(st.timestamp >>> 0, 4);
  p.writeUInt32BE(st.ssrc >>> 0, 8);
  payload.copy(p, 12);
  st.seq = (st.seq + 1) & 0xffff;
  st.timestamp = (st.timestamp + samples) >>> 0;
  return p;
}

export interface ParsedRtp {
  pt: number;
  marker: boolean;
  seq: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

export function parseRtp(buf: Buffer): ParsedRtp | null {
  if (buf.length < 12 || buf[0] >> 6 !== 2) return null;
  const cc = buf[0] & 0x0f;
  let off = 12 + cc * 4;
  if (buf[0] & 0x10) {
    if (buf.length < off + 4) return null;
    off += 4 + buf.readUInt16BE(off + 2) * 4;
  }
  let end = buf.length;
  if (buf[0] & 0x20) end -= buf[buf.length - 1];
  if (off > end) return null;
  return {
    pt: buf[1] & 0x7f,
    marker: (buf[1] & 0x80) !== 0,
    seq: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(off, end),
  };
}
