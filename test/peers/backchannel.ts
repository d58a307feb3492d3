/** Runs test/peers/backchannel_server.py (GStreamer's ONVIF RTSP server with a backchannel). */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';

export const PYTHON = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'backchannel_server.py');

export interface BackchannelCamera {
  url: string;
  /** Raw G.711 bytes received on the backchannel so far. */
  received(): Buffer;
  stop(): Promise<void>;
}

export async function startBackchannelCamera(
  o: { codec?: 'pcma' | 'pcmu'; user?: string; password?: string } = {},
): Promise<BackchannelCamera> {
  const dir = mkdtempSync(join(tmpdir(), 'backchannel-'));
  const out = join(dir, 'received.g711');
  const port = await freePort();
  const args = [SCRIPT, '--port', String(port), '--out', out, '--codec', o.codec ?? 'pcmu'];
  if (o.user) args.push('--user', o.user, '--password', o.password ?? '');
  const p = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  p.stderr.on('data', (d) => (log += d));
  const url = await new Promise<string>((ok, fail) => {
    const t = setTimeout(() => fail(new Error(`backchannel server did not start: ${log}`)), 10_000);
    p.stdout.on('data', (d: Buffer) => {
      const m = /ready (\S+)/.exec(d.toString());
      if (m) clearTimeout(t), ok(m[1]);
    });
    p.once('exit', (code) => (clearTimeout(t), fail(new Error(`backchannel server exited (${code}): ${log}`))));
  });
  return {
    url,
    received: () => (existsSync(out) ? readFileSync(out) : Buffer.alloc(0)),
    stop: async () => {
      if (p.exitCode === null) {
        p.kill('SIGTERM');
        const hard = setTimeout(() => p.kill('SIGKILL'), 2000);
        await new Promise((r) => p.once('exit', r));
        clearTimeout(hard);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
