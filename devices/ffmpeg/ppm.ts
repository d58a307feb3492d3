/**
 * Splits ffmpeg's image2pipe PPM stream into frames. The header (P6, width, height,
 * maxval) is tiny, so frame sizes may change mid-stream (a camera switching resolution)
 * without any out-of-band negotiation. Pixel data is copied straight into a buffer the
 * caller supplies (or skipped without copying when the caller does not want the frame).
 */
export interface PpmHeader {
  width: number;
  height: number;
}

export interface PpmSink {
  /** Return a buffer of at least w*h*3 bytes to receive this frame, or null to skip it. */
  begin(h: PpmHeader): Buffer | null;
  /** Called when the frame's last byte arrived (only for frames that got a buffer). */
  end(h: PpmHeader, data: Buffer): void;
}

export class PpmParser {
  private header = Buffer.alloc(64);
  private headerLen = 0;
  private current: PpmHeader | null = null;
  private target: Buffer | null = null;
  private remaining = 0;
  private filled = 0;
  private readonly sink: PpmSink;

  constructor(sink: PpmSink) {
    this.sink = sink;
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (!this.current) {
        off = this.readHeader(chunk, off);
        continue;
      }
      const n = Math.min(this.remaining, chunk.length - off);
      if (this.target) chunk.copy(this.target, this.filled, off, off + n);
      this.filled += n;
      this.remaining -= n;
      off += n;
      if (this.remaining === 0) {
        const h = this.current;
        const t = this.target;
        this.current = null;
        this.target = null;
        if (t) this.sink.end(h, t);
      }
    }
  }

  private readHeader(chunk: Buffer, off: number): number {
    while (off < chunk.length) {
      if (this.headerLen >= this.header.length) throw new Error('ffmpeg output is not a PPM stream (header too long)');
      this.header[this.headerLen++] = chunk[off++];
      const h = this.tryHeader();
      if (h) {
        this.headerLen = 0;
        this.current = h;
        this.remaining = h.width * h.height * 3;
        this.filled = 0;
        this.target = this.sink.begin(h);
        return off;
      }
    }
    return off;
  }

  /** "P6" ws width ws height ws maxval, then exactly one whitespace byte. */
  private tryHeader(): PpmHeader | null {
    const len = this.headerLen;
    if (len < 2) return null;
    if (this.header[0] !== 0x50 || this.header[1] !== 0x36) throw new Error('ffmpeg output is not a PPM stream (no P6 magic)');
    const last = this.header[len - 1];
    if (last !== 0x0a && last !== 0x20 && last !== 0x0d && last !== 0x09) return null;
    const fields = this.header
      .toString('latin1', 2, len - 1)
      .trim()
      .split(/\s+/);
    if (fields.length < 3 || fields.some((f) => f === '')) return null;
    const [w, h, max] = fields.map(Number);
    if (max !== 255) throw new Error(`ffmpeg PPM maxval ${max} not supported`);
    return { width: w, height: h };
  }
}
