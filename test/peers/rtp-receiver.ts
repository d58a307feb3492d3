/**
 * ffmpeg as an RTP paging receiver: it joins the address (unicast or a multicast group),
 * decodes G.711 by its static payload type, and writes 16-bit PCM until the stream has
 * been quiet for 1.5 s.
 *
 * Multicast needs a route for the group. Rather than change the host's routes, a test runs
 * this file inside a throwaway user+network namespace (`unshare -rn`) whose lo carries
 * 224.0.0.0/4; run so, it plays `tone` through RtpSpeaker and prints one JSON line.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RtpSpeaker, parseRtpUrl } from '../../devices/speakers/rtp/driver.ts';
import { dbfs, tone } from '../helpers/audio.ts';
import { udpBound } from './ports.ts';

const SELF = fileURLToPath(import.meta.url);

export function ffmpegReceiver(address: string, port: number): { done: Promise<Int16Array>; ready: Promise<void> } {
  const input = `rtp://${address}:${port}?localaddr=127.0.0.1&timeout=1500000`;
  const p = spawn('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-probesize',
    '2000',
    '-analyzeduration',
    '0',
    '-i',
    input,
    '-f',
    's16le',
    '-ac',
    '1',
    '-ar',
    '8000',
    'pipe:1',
  ]);
  const chunks: Buffer[] = [];
  let err = '';
  p.stdout.on('data', (d: Buffer) => chunks.push(d));
  p.stderr.on('data', (d) => (err += d));
  const done = new Promise<Int16Array>((res, rej) => {
    const t = setTimeout(() => (p.kill('SIGKILL'), rej(new Error(`ffmpeg never finished: ${err}`))), 30_000);
    p.on('close', () => {
      clearTimeout(t);
      const b = Buffer.concat(chunks);
      if (!b.length) return rej(new Error(`ffmpeg received nothing: ${err}`));
      res(new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + (b.length & ~1))));
    });
  });
  return { done, ready: udpBound(port) };
}

/** Runs the multicast round trip in a private network namespace; resolves with what ffmpeg heard. */
export function multicastRoundTrip(o: {
  group: string;
  port: number;
  codec: 'pcma' | 'pcmu';
  seconds: number;
}): Promise<{ samples: number; dbfs: number; sentMs: number }> {
  const script =
    'PATH="$PATH:/usr/sbin:/sbin"; ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo src 127.0.0.1 && exec "$0" --import tsx "$1" "$2"';
  return new Promise((ok, fail) => {
    const p = spawn('unshare', ['-rn', 'sh', '-c', script, process.execPath, SELF, JSON.stringify(o)], { cwd: resolve(SELF, '../../..') });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code === 0 && line) ok(JSON.parse(line));
      else
        fail(
          new Error(
            `multicast round trip in a network namespace failed (${code}); unshare -rn needs unprivileged user namespaces and iproute2:\n${out}`,
          ),
        );
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const o = JSON.parse(process.argv[2]) as { group: string; port: number; codec: 'pcma' | 'pcmu'; seconds: number };
  const rx = ffmpegReceiver(o.group, o.port);
  await rx.ready;
  const r = await new RtpSpeaker('pa', parseRtpUrl(`rtp://${o.group}:${o.port}?codec=${o.codec}&ttl=1&iface=127.0.0.1`)).play(
    tone(o.codec, o.seconds),
  );
  const pcm = await rx.done;
  console.log(JSON.stringify({ samples: pcm.length, dbfs: dbfs(pcm), sentMs: r.sentMs }));
}
