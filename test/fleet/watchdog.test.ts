/**
 * The systemd watchdog, notify side. systemd cannot run as init here, so a real
 * NOTIFY_SOCKET listener (test/peers/notify_listener.py: a unix datagram socket that
 * reads and closes passed descriptors as the manager does) stands in for it. Proven: a
 * running gateway says READY=1 and pings WATCHDOG=1 well within WatchdogSec, through the
 * real systemd-notify; with its event loop blocked it sends nothing for longer than
 * WatchdogSec, which is exactly when systemd kills and restarts it (Restart=always).
 * Not proven here: systemd's own reaction (see `systemd-analyze verify` in deploy.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { havePeers } from '../peers/require.ts';
import { tempDir } from '../helpers/gateway.ts';
import { Box } from '../helpers/boxes.ts';
import { ROOT } from '../../gateway/paths.ts';
import { pipelineProblem, STALL_MS } from '../../gateway/fleet/watchdog.ts';
import type { CameraHealth } from '../../gateway/capture/health.ts';

const ok = havePeers('systemd-notify', '/usr/bin/python3');
const WATCHDOG_S = 2;

describe.runIf(ok)('systemd watchdog (notify side)', () => {
  let listener: ChildProcess;
  let box: Box;
  const heard: { t: number; msg: string[] }[] = [];
  const dir = tempDir('gw-watchdog-');
  const sock = join(dir, 'notify');

  beforeAll(async () => {
    listener = spawn('/usr/bin/python3', [join(ROOT, 'test/peers/notify_listener.py'), sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: listener.stdout! });
    await new Promise<void>((ready) =>
      lines.on('line', (l) => {
        const m = JSON.parse(l);
        if (m.ready) return ready();
        heard.push({ t: Date.now(), msg: m.msg });
      }),
    );
    box = await Box.start(
      'gw-w',
      dir,
      `gateway: { id: gw-w, data_dir: ${dir}/data }\nmqtt: { url: 'mqtt://127.0.0.1:9' }\nhttp: { enabled: false }\nstats: { interval_s: 0 }\n`,
      { NOTIFY_SOCKET: sock, WATCHDOG_USEC: String(WATCHDOG_S * 1e6) },
    );
  }, 60_000);

  afterAll(async () => {
    await box?.stop();
    listener?.kill();
  });

  const pings = (from: number, to = Infinity) => heard.filter((h) => h.t >= from && h.t < to && h.msg.includes('WATCHDOG=1'));

  it('says READY=1 and pings WATCHDOG=1 every half period while alive', async () => {
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 3 * WATCHDOG_S * 1000));
    expect(heard.some((h) => h.msg.includes('READY=1'))).toBe(true);
    const p = pings(from);
    expect(p.length).toBeGreaterThanOrEqual(4);
    const gaps = p.slice(1).map((h, i) => h.t - p[i]!.t);
    expect(Math.max(...gaps)).toBeLessThan(WATCHDOG_S * 1000);
  });

  it('sends nothing while its event loop is blocked for longer than WatchdogSec', async () => {
    const { start, end } = await box.block(2 * WATCHDOG_S * 1000);
    await new Promise((r) => setTimeout(r, WATCHDOG_S * 1000));
    // A systemd-notify started just before the block may still land in its first moments.
    expect(pings(start + 500, end)).toEqual([]);
    // The last ping before the block and the first after it are more than WatchdogSec apart:
    // systemd would have killed the process in between.
    const before = pings(0, start + 500).at(-1)!;
    const after = pings(end)[0];
    expect(after, 'pings again once the loop is free').toBeDefined();
    expect(after!.t - before.t).toBeGreaterThan(WATCHDOG_S * 1000);
  });
});

describe('pipeline liveness', () => {
  const cam = (o: Partial<CameraHealth>): CameraHealth => ({
    camera: 'cam-1',
    state: 'online',
    reason: null,
    code: null,
    since: 0,
    lastFrameAt: null,
    framesPerMinute: 60,
    restarts: 0,
    dropped: 0,
    width: 640,
    height: 360,
    ...o,
  });
  const now = 10 * STALL_MS;

  it('is alive with frames flowing, or with cameras that are down (a restart would not bring them back)', () => {
    expect(pipelineProblem([cam({}), cam({ camera: 'cam-2', state: 'reconnecting', framesPerMinute: 0 })], now, 5, 30_000)).toBeNull();
    expect(pipelineProblem([cam({ framesPerMinute: 0, since: now - 1000 })], now, 5, 30_000)).toBeNull();
  });

  it('is not alive when an online camera has had no analysed frame for a minute, or the loop is late', () => {
    expect(pipelineProblem([cam({ camera: 'cam-9', framesPerMinute: 0 })], now, 5, 30_000)).toMatch(/online camera\(s\) cam-9/);
    expect(pipelineProblem([cam({})], now, 20_000, 30_000)).toMatch(/event loop 20000 ms late/);
  });
});
