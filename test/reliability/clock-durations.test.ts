/**
 * The durations that were still wall-clock, across a clock stepped back or forward an hour:
 * the outbox's message expiry, a warning's grace window for its repeat, the age of an
 * officer's position and other boxes' officer claims. Each runs on the monotonic clock;
 * the wall clock only stamps records.
 */
import { describe, expect, it } from 'vitest';
import { ulid } from 'ulid';
import { openDb } from '../../gateway/store/db.ts';
import { OutboxRepo, PRIORITY } from '../../gateway/store/outbox.ts';
import { Uplink } from '../../gateway/uplink/uplink.ts';
import { Topics } from '../../gateway/api/topics.ts';
import { silentLogger } from '../../gateway/log.ts';
import type { Clock } from '../../gateway/clock.ts';
import { Timers } from '../../gateway/events/timers.ts';
import { nextWarnedStep, repeatDue } from '../../gateway/events/warning-policy.ts';
import { Roster } from '../../gateway/dispatch/roster.ts';
import { OfficerClaims, DEFAULT_CLAIMS } from '../../gateway/dispatch/claims.ts';
import { Bus } from '../../gateway/bus.ts';
import type { Uplink as UplinkT } from '../../gateway/uplink/uplink.ts';
import type { EventRecord } from '../../gateway/core/event.ts';
import type { WarningPolicy } from '../../gateway/alert/policy.ts';
import type { ZoneRule } from '../../gateway/rules/zone-rules.ts';

/** A clock a test steps: wall = monotonic + offset. */
function steppingClock(start = 1_800_000_000_000) {
  let m = 0;
  let offset = start;
  const clock: Clock = { now: () => m + offset, mono: () => m };
  return { clock, pass: (ms: number) => (m += ms), step: (ms: number) => (offset += ms) };
}

const STEPS = [
  ['back', -3600_000],
  ['forward', 3600_000],
] as const;

describe('outbox message expiry across a clock step', () => {
  it.each(STEPS)('a step %s: a message given 60 s lives 60 s', (_dir, step) => {
    const t = steppingClock();
    const u = new Uplink({
      url: 'mqtt://127.0.0.1:9',
      protocolVersion: 5,
      clientId: `gw-exp-${ulid()}`,
      topics: new Topics('x', 'gw'),
      outbox: new OutboxRepo(openDb(':memory:')),
      log: silentLogger(),
      clock: t.clock,
      version: 'test',
    });
    u.enqueue({
      topic: 'x/v1/officers/o1/dispatch',
      payload: '{}',
      qos: 1,
      priority: PRIORITY.dispatch,
      expiresAt: t.clock.now() + 60_000,
    });
    t.pass(10_000);
    t.step(step);
    u.prune();
    expect(u.pending()).toBe(1);
    t.pass(49_000);
    u.prune();
    expect(u.pending()).toBe(1);
    t.pass(2000);
    u.prune();
    expect(u.pending()).toBe(0);
  });
});

describe("a warning's grace window across a clock step", () => {
  const policy = { repeatCount: 1, repeatIntervalMs: 300 } as WarningPolicy;
  const run = async (dueIn: (w: number) => number, graceS: number, step: number, warnedAgo = 0) => {
    const wall = { t: Date.now() };
    const clock: Clock = { now: () => wall.t, mono: () => performance.now() };
    const warnedAt = wall.t - warnedAgo;
    const e = { id: 'E1', state: 'warned', dueAt: dueIn(warnedAt), data: { warned_at: warnedAt, repeats: 0 } } as unknown as EventRecord;
    const at: boolean[] = [];
    const timers = new Timers(clock, silentLogger(), async () => {
      at.push(repeatDue(e, { graceS } as ZoneRule, policy, timers.stepTime(e)));
    });
    timers.schedule(e);
    wall.t += step;
    await new Promise((r) => setTimeout(r, 700));
    await timers.stop(100);
    return at;
  };

  it.each(STEPS)('a step %s: the repeat inside the window still plays', async (_dir, step) => {
    // Repeat at 300 ms, recheck at 60 s.
    expect(await run((w) => nextWarnedStep(policy, w, 0, 60), 60, step)).toEqual([true]);
  });

  it.each(STEPS)('a step %s: the recheck at the end of the window plays no repeat', async (_dir, step) => {
    // Grace 0.2 s: the recheck comes before the repeat would.
    expect(await run((w) => nextWarnedStep(policy, w, 0, 0.2), 0.2, step)).toEqual([false]);
  });

  it('a step already due when armed (a restart after the window) is the recheck, not a late repeat', async () => {
    expect(await run((w) => w + 300, 60, 0, 600_000)).toEqual([false]);
  });
});

describe("an officer's position age across a clock step", () => {
  const officers = [{ id: 'o1', name: 'A' }] as never;
  const report = (r: Roster, at: number) => r.report({ id: 'o1', lat: 28.77, lon: 118.55, onDuty: true, busy: false, reportedAt: at });

  it.each(STEPS)('a step %s: a position is as old as the time since it was heard', (_dir, step) => {
    const t = steppingClock();
    const r = new Roster(openDb(':memory:'), officers, t.clock);
    report(r, t.clock.now() - 5000); // 5 s old when heard
    t.pass(30_000);
    t.step(step);
    expect(r.candidates(28.77, 118.55, t.clock.now(), 60).map((c) => c.officer.id)).toEqual(['o1']);
    t.pass(26_000);
    expect(r.candidates(28.77, 118.55, t.clock.now(), 60)).toEqual([]);
  });
});

describe("another box's officer claim across a clock step", () => {
  it.each(STEPS)('a step %s: a claim with 30 s left holds the officer 30 s', (_dir, step) => {
    const t = steppingClock();
    const handlers: ((topic: string, payload: Buffer, packet: { properties?: object }) => void)[] = [];
    const uplink = { on: (_f: string, fn: (typeof handlers)[0]) => handlers.push(fn), connected: false } as unknown as UplinkT;
    const topics = new Topics('x', 'gw-a');
    const claims = new OfficerClaims({
      uplink,
      topics,
      gatewayId: 'gw-a',
      log: silentLogger(),
      clock: t.clock,
      bus: new Bus(),
      settings: DEFAULT_CLAIMS,
      openOfficers: () => new Set(),
    });
    claims.start();
    try {
      const now = t.clock.now();
      const claim = (gateway: string) => ({
        officer_id: 'o1',
        gateway_id: gateway,
        claim_id: `c-${gateway}`,
        event_id: null,
        at: new Date(now).toISOString(),
        renewed_at: new Date(now).toISOString(),
        expires_at: new Date(now + 30_000).toISOString(),
        ttl_s: 30,
      });
      // gw-b without MQTT 5 (its expires_at is all there is), gw-c with the expiry the broker counts.
      for (const [gateway, props] of [
        ['gw-b', undefined],
        ['gw-c', { messageExpiryInterval: 30 }],
      ] as const) {
        const topic = topics.address('officerClaim', { officer: 'o1', gateway });
        for (const h of handlers) h(topic, Buffer.from(JSON.stringify(claim(gateway))), { properties: props });
      }
      t.pass(10_000);
      t.step(step);
      expect([...claims.unavailable()]).toEqual(['o1']);
      t.pass(21_000);
      expect([...claims.unavailable()]).toEqual([]);
    } finally {
      claims.stop();
    }
  });
});
