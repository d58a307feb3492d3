/**
 * The wall clock stepping (NTP, an RTC-less box at boot): the uplink's send budget and the
 * per-zone rate limit run on monotonic time, and a step is logged and alerted. The step is
 * real for the uplink (Date itself is moved back an hour; performance.now is not). A
 * camera's dwell runs on monotonic time (the real pipeline: capture stamping, join,
 * tracker, rules; only the detector is a stand-in that sees a car in every frame), and
 * event timers (rechecks, offers) wait monotonic time.
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
import { CameraPipeline } from '../../gateway/pipeline.ts';
import { resolveZoneRules } from '../../gateway/rules/zone-rules.ts';
import { Timers } from '../../gateway/events/timers.ts';
import type { Context } from '../../gateway/context.ts';
import type { EventService } from '../../gateway/events/service.ts';
import type { DetectQueue, FrameSink } from '../../gateway/detect/queue.ts';
import type { Frame } from '../../gateway/capture/camera.ts';
import type { Verdict } from '../../gateway/rules/engine.ts';
import type { EventRecord } from '../../gateway/core/event.ts';

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

describe('a dwell across a clock step', () => {
  it.each([
    ['back', -3600_000],
    ['forward', 3600_000],
  ])('a step %s an hour during a 10 s dwell: the car is confirmed after 10 s of real time', (_dir, step) => {
    const t = steppingClock(Date.now());
    const config = settingsAt(
      tempDir('gw-dwell-'),
      `gateway: { id: gw-w }\ncameras:\n  - { id: cam, url: 'rtsp://127.0.0.1:9/x', location: { lat: 28.7, lon: 118.5 }, zones: [{ id: z, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], rules: [{ type: illegal_parking, dwell_s: 10 }] }] }\n`,
    );
    const cam = config.settings.cameras[0];
    const verdicts: Verdict[] = [];
    const events = {
      isSuppressed: () => false,
      presenceDue: () => false,
      confirm: (v: Verdict) => (verdicts.push(v), Promise.resolve()),
    } as unknown as EventService;
    // The model's stand-in: a parked car in every frame, answered at once.
    const car = { label: 'car', score: 0.9, box: [0.4, 0.4, 0.6, 0.6] as [number, number, number, number] };
    const detector = {
      push: (frame: Frame, sink: FrameSink) => sink.detected({ model: 'm', frame, detections: [car], timing: {} as never, batch: 1 }),
      discard: () => false,
    } as unknown as DetectQueue;
    const p = new CameraPipeline({
      ctx: { config, log: silentLogger(), clock: t.clock } as unknown as Context,
      camera: cam,
      rules: resolveZoneRules(cam),
      events,
      onHealth: () => undefined,
      queues: [detector],
      input: { width: 64, height: 48, fit: 'stretch' },
    });
    const firstWall = t.clock.now();
    let confirmedAfterS = -1;
    for (let s = 0; s <= 30 && confirmedAfterS < 0; s++) {
      if (s === 4) t.step(step);
      // What the capture hands over: stamped with the wall clock, as ffmpeg's reader does.
      const frame: Frame = {
        camera: 'cam',
        ts: t.clock.now(),
        width: 64,
        height: 48,
        data: Buffer.alloc(64 * 48 * 3),
        release: () => undefined,
      };
      p['onFrame'](frame);
      if (verdicts.length) confirmedAfterS = s;
      else t.pass(1000);
    }
    expect(confirmedAfterS).toBe(10);
    // The record carries wall-clock time: confirmed now, as the (stepped) wall clock reads it, 10 s after it started.
    expect(verdicts[0].at).toBe(t.clock.now());
    expect(verdicts[0].at - verdicts[0].since).toBe(10_000);
    expect(verdicts[0].since).toBe(firstWall + step);
  });

  it('an event timer armed before a step back fires after its real wait, and the event is due', async () => {
    const t = { wall: Date.now() };
    const clock: Clock = { now: () => t.wall, mono: () => performance.now() };
    const ran: boolean[] = [];
    const e = { id: 'E1', state: 'warned', dueAt: t.wall + 300 } as EventRecord;
    const timers = new Timers(clock, silentLogger(), async () => void ran.push(timers.due(e)));
    timers.schedule(e);
    t.wall -= 3600_000;
    await new Promise((r) => setTimeout(r, 600));
    expect(ran).toEqual([true]);
    await timers.stop(100);
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
