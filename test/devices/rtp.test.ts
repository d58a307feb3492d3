/**
 * The RTP speaker driver against the recording speaker (scripts/sim/rtp-speaker.ts), a raw
 * socket, real ffmpeg as an RTP receiver, and multicast on loopback.
 */
import { spawn } from 'node:child_process';
import { tone } from '../helpers/audio.ts';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RtpSpeaker, isMulticast, parseRtpUrl } from '../../devices/speakers/rtp/driver.ts';
import { PAYLOAD_TYPE, newRtpState, parseRtp, rtpPacket, type ParsedRtp } from '../../devices/speakers/rtp/packet.ts';
import { createSpeaker } from '../../devices/registry.ts';
import { udpBound } from '../peers/ports.ts';
import { DeviceError } from '../../devices/errors.ts';
import { RtpRecorder } from '../../scripts/sim/rtp-speaker.ts';
import { decode, rmsDbfs } from '../../scripts/sim/g711.ts';
import { havePeers } from '../peers/require.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gw-rtp-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

function zeroCrossings(pcm: Int16Array): number {
  let n = 0;
  for (let i = 1; i < pcm.length; i++) if (pcm[i - 1] < 0 !== pcm[i] < 0) n++;
  return n;
}

async function recorder(o: { group?: string; host?: string } = {}): Promise<RtpRecorder> {
  const r = new RtpRecorder({ port: 0, gapMs: 300, ...o });
  await r.start();
  cleanup.push(() => r.stop());
  return r;
}

/** A raw UDP listener that keeps every RTP packet with its arrival time. */
async function rawListener(): Promise<{ port: number; packets: (ParsedRtp & { at: number; size: number })[] }> {
  const sock: Socket = createSocket('udp4');
  const packets: (ParsedRtp & { at: number; size: number })[] = [];
  sock.on('message', (m) => {
    const p = parseRtp(m);
    if (p) packets.push({ ...p, payload: Buffer.from(p.payload), at: performance.now(), size: m.length });
  });
  await new Promise<void>((ok) => sock.bind(0, '127.0.0.1', () => ok()));
  cleanup.push(() => sock.close());
  return { port: sock.address().port, packets };
}

describe('parseRtpUrl and the registry', () => {
  it('reads host, port, ptime, ttl, codec and iface', () => {
    expect(parseRtpUrl('rtp://192.168.1.50:5004')).toEqual({
      host: '192.168.1.50',
      port: 5004,
      ptimeMs: 20,
      ttl: 1,
      codec: 'pcma',
      iface: undefined,
    });
    expect(parseRtpUrl('rtp://239.1.1.10:5006?ttl=4&ptime=40&codec=pcmu&iface=10.0.0.2')).toEqual({
      host: '239.1.1.10',
      port: 5006,
      ptimeMs: 40,
      ttl: 4,
      codec: 'pcmu',
      iface: '10.0.0.2',
    });
    expect(parseRtpUrl('rtp://spk.local:5004', 'pcmu').codec).toBe('pcmu');
  });

  it('refuses a URL without a port, another scheme or a non-G.711 codec', () => {
    expect(() => parseRtpUrl('rtp://192.168.1.50')).toThrow(/needs a port/);
    expect(() => parseRtpUrl('http://192.168.1.50:5004')).toThrow(DeviceError);
    expect(() => parseRtpUrl('rtp://192.168.1.50:5004?codec=opus')).toThrow(/not G.711/);
  });

  it('isMulticast and the registry', () => {
    expect(isMulticast('239.1.1.1')).toBe(true);
    expect(isMulticast('224.0.0.1')).toBe(true);
    expect(isMulticast('192.168.1.1')).toBe(false);
    expect(isMulticast('240.0.0.1')).toBe(false);
    const s = createSpeaker({ id: 'spk-1', url: 'rtp://127.0.0.1:5004', codec: 'pcmu' });
    expect(s).toBeInstanceOf(RtpSpeaker);
    expect(s.codecs).toEqual(['pcmu']);
    expect(() => createSpeaker({ id: 'spk-2', url: 'xyz://192.0.2.1' })).toThrow(/no driver for "xyz:"/);
  });
});

describe('rtpPacket / parseRtp', () => {
  it('round-trips a header, and seq and timestamp wrap around', () => {
    const st = { ssrc: 0xdeadbeef, seq: 0xffff, timestamp: 0xffffffc0 };
    const a = parseRtp(rtpPacket(st, PAYLOAD_TYPE.pcma, Buffer.alloc(160, 1), 160, true))!;
    const b = parseRtp(rtpPacket(st, PAYLOAD_TYPE.pcma, Buffer.alloc(160, 2), 160, false))!;
    expect(a).toMatchObject({ pt: 8, marker: true, seq: 0xffff, timestamp: 0xffffffc0, ssrc: 0xdeadbeef });
    expect(b).toMatchObject({ pt: 8, marker: false, seq: 0, timestamp: 0x60, ssrc: 0xdeadbeef });
    expect(b.payload.length).toBe(160);
    expect(b.payload[0]).toBe(2);
  });

  it('skips CSRCs, extensions and padding; refuses what is not RTP v2', () => {
    const payload = Buffer.from([9, 9, 9]);
    const csrcExt = Buffer.concat([
      Buffer.from([0x80 | 0x10 | 0x20 | 1, 0]),
      Buffer.alloc(10),
      Buffer.alloc(4),
      Buffer.from([0xbe, 0xde, 0, 1]),
      Buffer.alloc(4),
      payload,
      Buffer.from([0, 2]),
    ]);
    expect(parseRtp(csrcExt)!.payload).toEqual(payload);
    expect(parseRtp(Buffer.alloc(8))).toBeNull();
    expect(parseRtp(Buffer.alloc(20))).toBeNull(); // version 0
  });

  it('a new state starts at random values', () => {
    const a = newRtpState();
    const b = newRtpState();
    expect([a.ssrc, a.seq, a.timestamp]).not.toEqual([b.ssrc, b.seq, b.timestamp]);
  });
});

describe('RtpSpeaker → RtpRecorder', () => {
  it('1 s of A-law: 50 packets of 160 bytes, none lost, about 1 s of wall time, the same audio', async () => {
    const rec = await recorder();
    const audio = tone('pcma', 1);
    const spk = new RtpSpeaker('spk-1', parseRtpUrl(`rtp://127.0.0.1:${rec.port}`));
    const since = Date.now();
    const res = await spk.play(audio);
    const t = await rec.next(3000, since);
    expect(t.packets).toBe(50);
    expect(t.bytes).toBe(8000);
    expect(t.lost).toBe(0);
    expect(t.codec).toBe('pcma');
    expect(t.durationMs).toBe(1000);
    expect(t.wallMs).toBeGreaterThan(700);
    expect(t.wallMs).toBeLessThan(1300);
    expect(t.audio.equals(audio.data)).toBe(true);
    expect(t.dbfs).toBeGreaterThan(-20);
    expect(res.bytes).toBe(8000);
    expect(res.sentMs).toBeGreaterThan(700);
    expect(res.sentMs).toBeLessThan(1300);
    expect(res.detail).toMatch(new RegExp(`^rtp 127\\.0\\.0\\.1:${rec.port} pt=8 ssrc=[0-9a-f]+$`));
    expect(res.detail).toContain(t.ssrc.toString(16));
  });

  it('µ-law goes out as payload type 0', async () => {
    const rec = await recorder();
    const spk = new RtpSpeaker('spk-u', parseRtpUrl(`rtp://127.0.0.1:${rec.port}?codec=pcmu`));
    const audio = tone('pcmu', 0.5);
    await spk.play(audio);
    const t = await rec.next(3000);
    expect(t.codec).toBe('pcmu');
    expect(t.packets).toBe(25);
    expect(t.audio.equals(audio.data)).toBe(true);
  });

  it('on the wire: marker on the first packet only, contiguous seq, timestamps +160, paced every ~20 ms', async () => {
    const raw = await rawListener();
    const spk = new RtpSpeaker('spk-1', parseRtpUrl(`rtp://127.0.0.1:${raw.port}`));
    await spk.play(tone('pcma', 1));
    await new Promise((r) => setTimeout(r, 100));
    const p = raw.packets;
    expect(p).toHaveLength(50);
    expect(p.map((x) => x.marker)).toEqual([true, ...Array(49).fill(false)]);
    for (let i = 0; i < p.length; i++) {
      expect(p[i].size).toBe(12 + 160);
      expect(p[i].payload.length).toBe(160);
      expect(p[i].pt).toBe(8);
      expect(p[i].ssrc).toBe(p[0].ssrc);
      if (i) {
        expect(p[i].seq).toBe((p[i - 1].seq + 1) & 0xffff);
        expect(p[i].timestamp).toBe((p[i - 1].timestamp + 160) >>> 0);
      }
    }
    const span = p[49].at - p[0].at;
    expect(span).toBeGreaterThan(49 * 20 - 300);
    expect(span).toBeLessThan(49 * 20 + 300);
  });

  it('ptime=10 makes 80-byte packets; a last short packet carries the rest', async () => {
    const raw = await rawListener();
    const spk = new RtpSpeaker('spk-1', parseRtpUrl(`rtp://127.0.0.1:${raw.port}?ptime=10`));
    const audio = tone('pcma', 0.205); // 1640 samples: 20 x 80 + 40
    await spk.play(audio);
    await new Promise((r) => setTimeout(r, 100));
    expect(raw.packets).toHaveLength(21);
    expect(raw.packets.slice(0, 20).every((x) => x.payload.length === 80)).toBe(true);
    expect(raw.packets[20].payload.length).toBe(40);
  });

  it("converts audio in the other G.711 law to the speaker's codec", async () => {
    const rec = new RtpRecorder({ port: 0 });
    await rec.start();
    try {
      const spk = new RtpSpeaker('spk-1', parseRtpUrl(`rtp://127.0.0.1:${rec.port}?codec=pcma`));
      await spk.play(tone('pcmu', 0.5));
      const t = await rec.next(5000);
      expect(t.codec).toBe('pcma');
      expect(t.bytes).toBe(4000);
      expect(t.dbfs).toBeGreaterThan(-20);
    } finally {
      rec.stop();
    }
  });

  it('an abort stops the playback early with a timeout DeviceError', async () => {
    const raw = await rawListener();
    const spk = new RtpSpeaker('spk-1', parseRtpUrl(`rtp://127.0.0.1:${raw.port}`));
    const started = performance.now();
    const err = await spk.play(tone('pcma', 3), AbortSignal.timeout(300)).then(
      () => null,
      (e: DeviceError) => e,
    );
    expect(err).toBeInstanceOf(DeviceError);
    expect(err!.code).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(raw.packets.length).toBeLessThan(50);
  });

  it('an unresolvable host name is unreachable', async () => {
    const spk = new RtpSpeaker('spk-x', parseRtpUrl('rtp://no-such-speaker.invalid:5004'));
    const err = await spk.play(tone('pcma', 0.1)).then(
      () => null,
      (e: DeviceError) => e,
    );
    expect(err).toBeInstanceOf(DeviceError);
    expect(err!.code).toBe('unreachable');
  });
});

describe('multicast on loopback', () => {
  it('a recorder that joined 239.255.77.x on 127.0.0.1 hears the speaker', async () => {
    const group = `239.255.77.${1 + (process.pid % 200)}`;
    const rec = await recorder({ group, host: '127.0.0.1' });
    const spk = new RtpSpeaker('spk-m', parseRtpUrl(`rtp://${group}:${rec.port}?ttl=1&iface=127.0.0.1`));
    const audio = tone('pcma', 0.5);
    await spk.play(audio);
    const t = await rec.next(3000);
    expect(t.packets).toBe(25);
    expect(t.lost).toBe(0);
    expect(t.audio.equals(audio.data)).toBe(true);
  });
});

/** An even UDP port whose odd neighbour (RTCP) is free too. */
async function freeRtpPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + 2 * Math.floor(Math.random() * 10000);
    const socks = [createSocket('udp4'), createSocket('udp4')];
    const ok = await Promise.all(
      socks.map(
        (s, k) =>
          new Promise<boolean>((res) => {
            s.once('error', () => res(false));
            s.bind(port + k, '127.0.0.1', () => res(true));
          }),
      ),
    );
    await Promise.all(
      socks.map(
        (s) =>
          new Promise<void>((res) => {
            try {
              s.close(() => res());
            } catch {
              res();
            }
          }),
      ),
    );
    if (ok.every(Boolean)) return port;
  }
  throw new Error('no free RTP port pair');
}

describe.runIf(havePeers('ffmpeg'))('RtpSpeaker → real ffmpeg RTP receiver', () => {
  it.each(['pcma', 'pcmu'] as const)('%s: ffmpeg decodes a 440 Hz tone that is not silent', async (codec) => {
    const port = await freeRtpPort();
    const sdp = join(tmp, `rx-${codec}.sdp`);
    const pt = PAYLOAD_TYPE[codec];
    writeFileSync(
      sdp,
      [
        'v=0',
        'o=- 0 0 IN IP4 127.0.0.1',
        's=gateway test',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        `m=audio ${port} RTP/AVP ${pt}`,
        `a=rtpmap:${pt} ${codec === 'pcma' ? 'PCMA' : 'PCMU'}/8000`,
        '',
      ].join('\r\n'),
    );
    const ff = spawn(
      'ffmpeg',
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        '-protocol_whitelist',
        'file,udp,rtp',
        '-i',
        sdp,
        '-t',
        '2',
        '-f',
        's16le',
        '-ac',
        '1',
        '-ar',
        '8000',
        'pipe:1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const kill = setTimeout(() => ff.kill('SIGKILL'), 15_000);
    cleanup.push(() => {
      clearTimeout(kill);
      ff.kill('SIGKILL');
    });
    const out: Buffer[] = [];
    let stderr = '';
    ff.stdout.on('data', (d: Buffer) => out.push(d));
    ff.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((ok) => ff.on('close', (c) => ok(c)));
    // Give ffmpeg time to open its sockets, then send 2.6 s so that -t 2 is reached.
    await udpBound(port);
    const played = new RtpSpeaker('spk-ff', parseRtpUrl(`rtp://127.0.0.1:${port}?codec=${codec}`)).play(tone(codec, 2.6)).then(
      () => null,
      (e: DeviceError) => e,
    );
    const code = await exited;
    // ffmpeg stops listening once it has its 2 s; the last packets then bounce (ICMP), which
    // the speaker rightly reports as refused. Anything else is a failure.
    const err = await played;
    if (err) expect(err.code).toBe('refused');
    expect(code, stderr).toBe(0);
    const raw = Buffer.concat(out);
    const pcm = new Int16Array(raw.buffer, raw.byteOffset, Math.floor(raw.length / 2));
    // About 2 s decoded (ffmpeg may miss the very first packets while starting).
    expect(pcm.length).toBeGreaterThan(8000 * 1.5);
    expect(pcm.length).toBeLessThanOrEqual(8000 * 2 + 160);
    expect(rmsDbfs(pcm)).toBeGreaterThan(-20);
    // 440 Hz: 880 zero crossings a second.
    const perSecond = zeroCrossings(pcm) / (pcm.length / 8000);
    expect(perSecond).toBeGreaterThan(860);
    expect(perSecond).toBeLessThan(900);
  });
});

describe('g711 helpers used by the recorder', () => {
  it('decode inverts the encoders closely, and silence is very quiet', () => {
    const t = tone('pcma', 0.1, 10000);
    const pcm = decode(t.data, 'pcma');
    expect(Math.max(...pcm)).toBeGreaterThan(9000);
    expect(Math.max(...pcm)).toBeLessThan(11000);
    const u = decode(tone('pcmu', 0.1, 10000).data, 'pcmu');
    expect(Math.max(...u)).toBeGreaterThan(9000);
    expect(rmsDbfs(decode(Buffer.alloc(800, 0xd5), 'pcma'))).toBeLessThan(-60);
    expect(rmsDbfs(decode(Buffer.alloc(800, 0xff), 'pcmu'))).toBeLessThan(-60);
  });
});
