/**
 * A recording speaker: listens for RTP like an IP speaker does, and keeps each talkspurt
 * (a burst of packets ending in 1 s of silence on the wire) as a WAV file, with what it
 * heard: length, level, packet count, sequence gaps. The demo uses it as its speaker and
 * the tests assert on what it recorded.
 *
 *   node --import tsx scripts/sim/rtp-speaker.ts --port 5004 [--dir data/demo/speaker] [--group 239.1.1.1]
 */
import { createSocket, type Socket } from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EventEmitter } from 'node:events';
import { parseRtp } from '../../devices/speakers/rtp/packet.ts';
import { decode, g711Wav, rmsDbfs } from './g711.ts';

export interface Talkspurt {
  codec: 'pcma' | 'pcmu';
  ssrc: number;
  packets: number;
  lost: number;
  bytes: number;
  /** Media length, from the samples received. */
  durationMs: number;
  /** Wall-clock time from the first to the last packet. */
  wallMs: number;
  dbfs: number;
  startedAt: number;
  audio: Buffer;
  file?: string;
}

export class RtpRecorder extends EventEmitter<{ talkspurt: [Talkspurt] }> {
  private sock: Socket | null = null;
  private current: {
    codec: 'pcma' | 'pcmu';
    ssrc: number;
    chunks: Buffer[];
    packets: number;
    lost: number;
    lastSeq: number;
    first: number;
    last: number;
  } | null = null;
  private idle: NodeJS.Timeout | null = null;
  readonly spurts: Talkspurt[] = [];
  port = 0;
  private readonly o: { port: number; host?: string; group?: string; dir?: string; gapMs?: number };

  constructor(o: { port: number; host?: string; group?: string; dir?: string; gapMs?: number }) {
    super();
    this.o = o;
  }

  async start(): Promise<number> {
    const sock = createSocket({ type: 'udp4', reuseAddr: true });
    this.sock = sock;
    sock.on('message', (m) => this.packet(m));
    await new Promise<void>((ok, fail) => {
      sock.once('error', fail);
      sock.bind(this.o.port, this.o.group ? undefined : (this.o.host ?? '127.0.0.1'), () => ok());
    });
    if (this.o.group) sock.addMembership(this.o.group, this.o.host ?? '127.0.0.1');
    this.port = sock.address().port;
    return this.port;
  }

  private packet(m: Buffer): void {
    const p = parseRtp(m);
    if (!p || (p.pt !== 0 && p.pt !== 8)) return;
    const now = Date.now();
    const codec = p.pt === 8 ? 'pcma' : 'pcmu';
    if (this.current && (this.current.ssrc !== p.ssrc || this.current.codec !== codec)) this.finish();
    if (!this.current)
      this.current = { codec, ssrc: p.ssrc, chunks: [], packets: 0, lost: 0, lastSeq: (p.seq - 1) & 0xffff, first: now, last: now };
    const c = this.current;
    c.lost += (p.seq - c.lastSeq - 1 + 0x10000) & 0xffff;
    c.lastSeq = p.seq;
    c.chunks.push(Buffer.from(p.payload));
    c.packets++;
    c.last = now;
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => this.finish(), this.o.gapMs ?? 1000);
  }

  private finish(): void {
    const c = this.current;
    this.current = null;
    if (!c) return;
    const audio = Buffer.concat(c.chunks);
    const t: Talkspurt = {
      codec: c.codec,
      ssrc: c.ssrc,
      packets: c.packets,
      lost: c.lost,
      bytes: audio.length,
      durationMs: (audio.length / 8000) * 1000,
      wallMs: c.last - c.first,
      dbfs: rmsDbfs(decode(audio, c.codec)),
      startedAt: c.first,
      audio,
    };
    if (this.o.dir) {
      mkdirSync(this.o.dir, { recursive: true });
      t.file = join(this.o.dir, `${new Date(c.first).toISOString().replace(/[:.]/g, '-')}-${c.ssrc.toString(16)}.wav`);
      writeFileSync(t.file, g711Wav(audio, c.codec));
    }
    this.spurts.push(t);
    this.emit('talkspurt', t);
  }

  /** Resolves with the next talkspurt (or one already recorded after `since`). */
  next(timeoutMs: number, since = 0): Promise<Talkspurt> {
    const done = this.spurts.find((s) => s.startedAt >= since);
    if (done) return Promise.resolve(done);
    return new Promise((ok, fail) => {
      const t = setTimeout(() => fail(new Error(`no RTP talkspurt on port ${this.port} within ${timeoutMs} ms`)), timeoutMs);
      this.once('talkspurt', (s) => {
        clearTimeout(t);
        ok(s);
      });
    });
  }

  stop(): void {
    if (this.idle) clearTimeout(this.idle);
    this.finish();
    this.sock?.close();
    this.sock = null;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '5004' }, dir: { type: 'string' }, group: { type: 'string' }, host: { type: 'string' } },
  });
  const r = new RtpRecorder({ port: Number(values.port), dir: values.dir ?? 'data/demo/speaker', group: values.group, host: values.host });
  r.on('talkspurt', (t) =>
    console.log(
      `played ${(t.durationMs / 1000).toFixed(1)} s ${t.codec} at ${t.dbfs.toFixed(1)} dBFS, ${t.packets} packets, ${t.lost} lost -> ${t.file}`,
    ),
  );
  console.log(`recording speaker listening on udp ${values.host ?? '127.0.0.1'}:${await r.start()}`);
}
