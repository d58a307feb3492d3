/**
 * A real mosquitto broker per test, on its own port and folder. It can be stopped and
 * started again on the same port (an outage), keeping its persistence file, so
 * persistent subscribers get what was queued for them while they were away.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort } from './ports.ts';

export interface Mosquitto {
  port: number;
  url: string;
  dir: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Extra config lines (TLS listeners, auth) can be given at creation. */
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`mosquitto did not listen on ${port} within ${ms} ms`);
}

export async function startMosquitto(o: { port?: number; extra?: string[] } = {}): Promise<Mosquitto> {
  const port = o.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'gw-mosq-'));
  // Started as root, mosquitto drops to its own user, which must still write persistence here.
  chmodSync(dir, 0o777);
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      'autosave_interval 1',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      ...(o.extra ?? []),
      '',
    ].join('\n'),
  );
  let child: ChildProcess | null = null;
  let stderr = '';
  const m: Mosquitto = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    async start() {
      // Already running: a second process would fail on the port and the first one's handle would be lost.
      if (child && child.exitCode === null) return;
      child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (d) => (stderr += d));
      const exited = new Promise<never>((_, fail) => child!.once('exit', (c) => fail(new Error(`mosquitto exited (${c}): ${stderr}`))));
      await Promise.race([waitForPort(port, 5000), exited]);
    },
    async stop() {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((ok) => {
        c.once('exit', () => ok());
        c.kill('SIGTERM');
      });
    },
  };
  await m.start();
  return m;
}
