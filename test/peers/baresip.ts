/**
 * baresip (Debian baresip-core) as an auto-answering SIP speaker on loopback. Its sndfile
 * module writes what it decoded from each call to a WAV file, so a test hears exactly what
 * a real SIP speaker would have played.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { wavSamples } from '../helpers/audio.ts';

export interface Baresip {
  port: number;
  url: string;
  /** Decoded audio of each call, oldest first: 16-bit samples at 8 kHz. */
  received(): Int16Array[];
  log(): string;
  stop(): Promise<void>;
}

/** Starts baresip; a port another process took between our check and its bind means another try. */
export async function startBaresip(o: { user?: string } = {}): Promise<Baresip> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startOnce(o);
    } catch (e) {
      if (attempt >= 3 || !/exited \(98\)|in use/i.test((e as Error).message)) throw e;
    }
  }
}

async function startOnce(o: { user?: string }): Promise<Baresip> {
  const dir = mkdtempSync(join(tmpdir(), 'baresip-'));
  const rec = join(dir, 'rec');
  mkdirSync(rec);
  const port = await freePort();
  const rtpBase = 20000 + Math.floor(Math.random() * 200) * 100;
  const user = o.user ?? 'speaker';
  writeFileSync(
    join(dir, 'config'),
    [
      'poll_method epoll',
      `sip_listen 127.0.0.1:${port}`,
      // aubridge on one device name: the player is pulled, so every received frame is decoded.
      'audio_player aubridge,spk',
      'audio_source aubridge,spk',
      'audio_alert aubridge,spk',
      `rtp_ports ${rtpBase}-${rtpBase + 99}`,
      'module_path /usr/lib/baresip/modules',
      'module g711.so',
      'module aubridge.so',
      'module sndfile.so',
      'module_app account.so',
      `snd_path ${rec}`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'accounts'), `<sip:${user}@127.0.0.1>;regint=0;answermode=auto\n`);
  let out = '';
  const p: ChildProcess = spawn('baresip', ['-f', dir, '-n', '127.0.0.1', '-4'], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  await new Promise<void>((ok, fail) => {
    const t = setTimeout(() => fail(new Error(`baresip did not start:\n${out}`)), 8000);
    const check = () => out.includes('baresip is ready') && (clearTimeout(t), ok());
    p.stdout!.on('data', check);
    p.once('exit', (code) => (clearTimeout(t), fail(new Error(`baresip exited (${code}):\n${out}`))));
  });
  return {
    port,
    url: `sip:${user}@127.0.0.1:${port}`,
    received: () =>
      readdirSync(rec)
        .filter((f) => f.endsWith('-dec.wav'))
        .sort()
        .map((f) => {
          return wavSamples(readFileSync(join(rec, f)));
        }),
    log: () => out,
    stop: async () => {
      if (p.exitCode === null) {
        p.kill('SIGTERM');
        await new Promise((r) => p.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
