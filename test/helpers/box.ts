/**
 * One gateway in its own process, so a test can kill -9 it. Started by test/helpers/boxes.ts:
 *
 *   node --import tsx test/helpers/box.ts SETTINGS_FILE
 *
 * It prints "ready" when the gateway runs. Each line "inject CAMERA" on stdin confirms an
 * event on that camera through the gateway's own event service (no video); the event id is
 * printed back as "event ID". "block MS" keeps the event loop busy for MS milliseconds.
 */
import { createInterface } from 'node:readline';
import { loadSettings } from '../../gateway/settings/load.ts';
import { startGateway } from './gateway.ts';
import { injectEvent } from './inject.ts';
import { watchGateway } from '../../gateway/fleet/watchdog.ts';
import { silentLogger } from '../../gateway/log.ts';

const gw = await startGateway(loadSettings(process.argv[2]!));
// As `gateway run` does: READY=1 and watchdog pings when NOTIFY_SOCKET is set.
const dog = watchGateway(gw, silentLogger());
process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'inject' && arg) {
    const e = await injectEvent(gw, arg);
    process.stdout.write(`event ${e.id}\n`);
  } else if (cmd === 'block' && arg) {
    // A stalled pipeline: the event loop does nothing else for this long.
    process.stdout.write('blocking\n'); // a pipe write is synchronous on Linux: it leaves now
    const until = Date.now() + Number(arg);
    while (Date.now() < until);
    process.stdout.write('unblocked\n');
  } else if (cmd === 'stop') break;
}
dog.stop();
await gw.stop();
process.exit(0);
