/**
 * The embedded broker's own process (forked by broker-process.ts). It outlives a gateway
 * killed with SIGKILL just long enough to deliver the gateway's last will (`offline`) to
 * the clients still connected, then exits: the IPC channel closing says the parent is gone.
 */
import { serveBroker, type EmbeddedBroker } from './broker.ts';
import { Topics } from '../api/topics.ts';
import type { ToChild } from './broker-process.ts';

/** Time for the will to reach the subscribers after the parent died. */
const GRACE_MS = 2000;

let broker: EmbeddedBroker | null = null;

async function exit(code: number): Promise<never> {
  await broker?.close();
  process.exit(code);
}

// Ctrl-C and systemd's stop reach the whole group: the gateway stops in order and closes
// us itself (its `offline` status goes out through us first).
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('disconnect', () => setTimeout(() => void exit(0), GRACE_MS));
process.on('message', async (m: ToChild) => {
  if (m.kind === 'close') return void exit(0);
  try {
    const auth = m.auth && { ...m.auth, topics: new Topics(m.auth.prefix, m.auth.gatewayId) };
    broker = await serveBroker(m.host, m.port, auth);
    process.send?.({ kind: 'ready', url: broker.url });
  } catch (e) {
    process.send?.({ kind: 'error', message: (e as Error).message });
    await exit(1);
  }
});
