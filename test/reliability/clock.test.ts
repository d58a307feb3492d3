/**
 * The wall clock stepping (NTP, an RTC-less box at boot): the uplink's send budget and the
 * per-zone rate limit run on monotonic time, and a step is logged and alerted. The step is
 * real for the uplink (Date itself is moved back an hour; performance.now is not).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ulid } from 'ulid';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, tempDir } from '../helpers/gateway.ts';
import { openDb } from '../../gateway/store/db.ts';
import { OutboxRepo, PRIORITY } from '../../gateway/store/outbox.ts';
import { Uplink } from '../../gateway/uplink/uplink.ts';
import { Topics } from '../../gateway/api/topics.ts';
import { silentLogger } from '../../gateway/log.ts';
import { ClockWatch, systemClock, type Clock } from '../../gateway/clock.ts';
import { ZoneRateLimiter } from '../../gateway/alert/schedule.ts';
import { Gateway } from '../../gateway/controller.ts';

const ok = havePeers('mosquitto');

/** A clock a test steps: wall = monotonic + offset. */
function steppingClock(start = 1_800_000_000_000) {
  let m = 0;
  let offset = start;
  const clock: Clock = { now: () => m + offset, mono: () => m };
  return { clock, pass: (ms: number) => (m += ms), step: (ms: number) => (offset += ms) };
}

describe('the rate limit across a clock step', () => {
  it.each([
    ['back', -3600_000],
    ['forward', 3600_000],
  ])('a step %s neither holds warnings for an hour nor lifts the limit', (_dir, step) => {
    const t = steppingClock();
    const l = new ZoneRateLimiter(1, 120_000, t.clock);
    l.record('cam/z', t.clock.now());
    t.pass(30_000);
    t.step(step);
    // 90 s of the window are left, whatever the wall clock now says.
    expect(l.nextAllowed('cam/z', t.clock.now())).toBe(t.clock.now() + 90_000);
    t.pass(90_001);
    expect(l.nextAllowed('cam/z', t.clock.now())).toBeNull();
  });

  it('a clock watch reports steps beyond 5 s, with their size, and not slow drift', () => {
    const t = steppingClock();
    const steps: number[] = [];
    const w = new ClockWatch(t.clock, (s) => steps.push(s));
    t.pass(5000);
    t.step(200);
    w.check();
    t.step(-3600_000);
    w.check();
    t.step(7200_000);
    w.check();
    expect(steps).toEqual([-3600_000, 7200_000]);
  });
});

describe.runIf(ok)('a clock step with a real broker', () => {
  let broker: Mosquitto;
  let heard: Collector;

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url, 'k/#');
  });
  afterAll(async () => {
    vi.useRealTimers();
    await heard?.close();
    await broker?.stop();
  });

  it('the uplink keeps publishing after Date steps back an hour', async () => {
    const u = new Uplink({
      url: broker.url,
      protocolVersion: 5,
      clientId: `gw-clock-${ulid()}`,
      topics: new Topics('k', 'gw'),
      outbox: new OutboxRepo(openDb(':memory:')),
      log: silentLogger(),
      clock: systemClock,
      version: 'test',
    });
    u.start();
    const send = (n: number) => {
      for (let i = 0; i < n; i++) u.enqueue({ topic: 'k/v1/gateways/gw/events', payload: `${i}`, qos: 1, priority: PRIORITY.event });
      u.flush();
    };
    try {
      send(10);
      expect(await u.settle(10_000)).toBe(true);
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() - 3600_000);
      send(10);
      expect(await u.settle(5000)).toBe(true);
    } finally {
      vi.useRealTimers();
      await u.stop();
    }
  });

  it('the gateway alerts a clock step', async () => {
    const t = steppingClock(Date.now());
    const gw = new Gateway({
      config: settingsAt(
        tempDir('gw-clock-'),
        `gateway: { id: gw-k }\nmqtt: { url: '${broker.url}', prefix: k }\nhttp: { enabled: false }\nstats: { interval_s: 0 }\ncameras: []\n`,
      ),
      log: silentLogger(),
      clock: t.clock,
    });
    await gw.start();
    try {
      t.step(-3600_000);
      gw.checkClock();
      const a = await heard.waitFor((m) => m.topic === 'k/v1/gateways/gw-k/alerts' && m.json?.kind === 'clock_step', 5000, 'alert');
      expect(a.json!.message).toMatch(/^clock stepped back by 1\.0 h/);
    } finally {
      await gw.stop();
    }
  });
});
