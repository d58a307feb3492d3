/**
 * Starts the embedded broker (broker.ts) in a child process, so that it survives a gateway
 * killed outright long enough to tell the other clients: aedes publishes the gateway's last
 * will when its connection drops, and the child exits a moment after the parent is gone
 * (broker-child.ts). An orderly stop closes it after the `offline` status is out.
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { EmbeddedBroker } from './broker.ts';

export interface ChildAuth {
  username: string;
  password: string;
  officers: { id: string; password?: string }[];
  /** The topic tree's prefix and gateway id (topics are rebuilt in the child). */
  prefix: string;
  gatewayId: string;
}

export type ToChild = { kind: 'start'; host: string; port: number; auth?: ChildAuth } | { kind: 'close' };
type FromChild = { kind: 'ready'; url: string } | { kind: 'error'; message: string };

export interface BrokerProcess extends EmbeddedBroker {
  pid: number;
}

/** tsx's loader by its path: the gateway may run from any working directory. */
function tsxLoader(): string {
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  return pathToFileURL(join(dirname(pkg), 'dist/loader.mjs')).href;
}

export function startBroker(host: string, port: number, auth?: ChildAuth): Promise<BrokerProcess> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'broker-child.ts');
  const child = fork(script, [], { execArgv: ['--import', tsxLoader()], serialization: 'json' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((ok, fail) => {
    const early = (code: number | null) => fail(new Error(`embedded MQTT broker: its process exited (${code}) before it was ready`));
    child.once('exit', early);
    child.once('error', (e) => fail(new Error(`embedded MQTT broker: ${e.message}`)));
    child.once('message', (m: FromChild) => {
      child.off('exit', early);
      if (m.kind === 'error') return fail(new Error(m.message));
      ok({
        url: m.url,
        pid: child.pid!,
        close: async () => {
          if (child.exitCode === null && child.connected) child.send({ kind: 'close' } satisfies ToChild);
          const killed = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(killed);
        },
      });
    });
    child.send({ kind: 'start', host, port, auth } satisfies ToChild);
  });
}
