/**
 * The stages that decide, without a broker or a camera: the warning policy, the recheck,
 * dispatch's assign and answer, the lifecycle's table, and one zone's warning covering
 * every event waiting in it. A fake clock; a real SQLite store; a stand-in for the
 * speakers that counts what it is asked to play (the speakers have their own tests).
 */
import { describe, expect, it } from 'vitest';
import { openDb } from '../../gateway/store/db.ts';
import { EventsRepo } from '../../gateway/store/events.ts';
import { OutboxRepo } from '../../gateway/store/outbox.ts';
import { WarningsRepo } from '../../gateway/store/warnings.ts';
import { Topics } from '../../gateway/api/topics.ts';
import { Uplink } from '../../gateway/uplink/uplink.ts';
import { Bus } from '../../gateway/bus.ts';
import { silentLogger } from '../../gateway/log.ts';
import { ZoneRateLimiter } from '../../gateway/alert/schedule.ts';
import type { WarningPolicy } from '../../gateway/alert/policy.ts';
import type { ZoneRule } from '../../gateway/rules/zone-rules.ts';
import type { EventRecord } from '../../gateway/core/event.ts';
import type { WarnRequest } from '../../gateway/alert/warner.ts';
import { decideRecheck, decideWarning } from '../../gateway/events/warning-policy.ts';
import { EventLifecycle } from '../../gateway/events/lifecycle.ts';
import { EventService } from '../../gateway/events/service.ts';
import { Dispatcher, DEFAULT_DISPATCH } from '../../gateway/dispatch/dispatcher.ts';
import { Roster } from '../../gateway/dispatch/roster.ts';
import { tempDir } from '../helpers/gateway.ts';

const T0 = Date.parse('2026-06-01T10:00:00+08:00');
const CAM = { lat: 28.7, lon: 118.4 };

function policy(o: Partial<WarningPolicy> = {}): WarningPolicy {
  return {
    timeZone: 'Asia/Shanghai',
    quietHours: () => [],
    limiter: new ZoneRateLimiter(1, 120_000),
    rateMaxWaitMs: 60_000,
    repeatCount: 0,
    repeatIntervalMs: 30_000,
    resolveClip: () => undefined,
    variables: (camera, zone) => ({ place: '广场', camera, zone, type_zh: '违停' }),
    ...o,
  };
}

const rule = {
  camera: 'cam',
  zone: 'z',
  zoneName: '步行区',
  type: 'illegal_parking',
  graceS: 60,
  message: '请勿停车',
  messages: { text: '请勿停车', firm: '请立即驶离' },
} as unknown as ZoneRule;

function store() {
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  const db = openDb(':memory:');
  const repo = new EventsRepo(db);
  const topics = new Topics('t', 'gw');
  const log = silentLogger();
  const uplink = new Uplink({
    url: 'mqtt://127.0.0.1:9',
    protocolVersion: 4,
    clientId: 'x',
    topics,
    outbox: new OutboxRepo(db),
    log,
    clock,
    version: '0',
  });
  const roster = new Roster(
    db,
    [
      { id: 'near', name: '近', town: 'T' },
      { id: 'far', name: '远', town: 'T' },
    ] as never,
    clock,
  );
  const dispatcher = new Dispatcher({
    db,
    repo,
    topics,
    gatewayId: 'gw',
    log,
    roster,
    cameras: new Map([['cam', { id: 'cam', name: 'cam', location: CAM }]]),
    zoneName: () => 'z',
    config: { ...DEFAULT_DISPATCH, positionMaxAgeS: 600, deadlineS: 1800, homeTown: 'T' },
  });
  const lifecycle = new EventLifecycle({
    repo,
    dispatches: dispatcher.dispatches,
    warnings: new WarningsRepo(db),
    uplink,
    topics,
    gatewayId: 'gw',
    log,
    clock,
    bus: new Bus(),
  });
  let n = 0;
  const add = (state: EventRecord['state'] = 'confirmed', at = clock.now()) =>
    repo.insert({
      id: `E${String(++n).padStart(25, '0')}`,
      type: 'illegal_parking',
      camera: 'cam',
      zone: 'z',
      state,
      trackIds: [n],
      classes: ['car'],
      box: [0, 0, 0.1, 0.1],
      firstSeenAt: at - 5000,
      confirmedAt: at,
      dueAt: null,
      evidencePath: null,
      evidenceSha256: null,
      officerId: null,
      reason: null,
      data: {},
      updatedAt: at,
      closedAt: null,
    });
  return { db, clock, repo, roster, dispatcher, lifecycle, add, log };
}

describe('the warning policy', () => {
  const e = { id: 'E1', camera: 'cam', zone: 'z', type: 'illegal_parking', confirmedAt: T0, data: {} } as EventRecord;

  it('plays the zone message when nothing stands in the way', () => {
    expect(decideWarning(e, rule, policy(), T0, ['s1'])).toMatchObject({ kind: 'play', text: '请勿停车', speakers: ['s1'] });
  });

  it('escalates without a speaker, and in quiet hours with a skipped attempt per speaker', () => {
    expect(decideWarning(e, rule, policy(), T0, [])).toMatchObject({ kind: 'escalate', reason: 'no speaker at this camera' });
    const d = decideWarning(e, rule, policy({ quietHours: () => ['09:00-11:00'] }), T0, ['s1', 's2']);
    expect(d).toMatchObject({ kind: 'escalate', reason: 'quiet hours (09:00-11:00): no audio, escalated instead' });
    expect(d.kind === 'escalate' && d.skipped.map((o) => [o.speaker, o.code])).toEqual([
      ['s1', 'quiet_hours'],
      ['s2', 'quiet_hours'],
    ]);
  });

  it('waits for the zone rate limit while that is not too long, and escalates after', () => {
    const p = policy();
    p.limiter.record('cam/z', T0 - 100_000); // the window opens 20 s from now
    expect(decideWarning(e, rule, p, T0, ['s1'])).toMatchObject({ kind: 'wait', until: T0 + 20_000 });
    const late = { ...e, confirmedAt: T0 - 50_000 }; // would have waited 70 s in all
    expect(decideWarning(late, rule, p, T0, ['s1'])).toMatchObject({
      kind: 'escalate',
      reason: 'rate limited: zone cam/z was warned recently, escalated instead',
    });
  });

  it('rechecks: gone resolves, still there escalates, no picture waits 10 s at a time and then escalates', () => {
    const w = { ...e, state: 'warned' } as EventRecord;
    expect(decideRecheck(w, 'absent', T0).map((x) => x.kind === 'move' && x.to)).toEqual(['rechecked', 'resolved_by_warning']);
    expect(decideRecheck(w, 'present', T0).map((x) => x.kind === 'move' && x.to)).toEqual(['rechecked', 'escalated']);
    expect(decideRecheck(w, 'unknown', T0)).toEqual([{ kind: 'wait', dueAt: T0 + 10_000, data: { recheck_waits: 1 } }]);
    expect(decideRecheck({ ...w, data: { recheck_waits: 12 } }, 'unknown', T0)).toMatchObject([{ kind: 'move', to: 'escalated' }]);
  });
});

describe('the lifecycle', () => {
  it('refuses a move its table does not allow, naming the event, from and to, and writes nothing', () => {
    const s = store();
    const e = s.add('confirmed');
    expect(() => s.lifecycle.apply({ event: e, effects: [{ kind: 'move', to: 'arrived' }] })).toThrow(
      `event ${e.id}: no transition from confirmed to arrived`,
    );
    expect(s.repo.get(e.id)!.state).toBe('confirmed');
    expect(s.repo.transitions(e.id)).toHaveLength(1);
    const w = s.lifecycle.apply({ event: e, effects: [{ kind: 'move', to: 'escalated', reason: 'r' }] });
    expect([w.state, s.repo.get(e.id)!.state, s.repo.transitions(e.id).map((t) => t.to)]).toEqual([
      'escalated',
      'escalated',
      ['confirmed', 'escalated'],
    ]);
  });
});

describe('dispatch decisions', () => {
  it('offers the nearest available officer; with nobody, waits unassigned and alerts the platform', () => {
    const s = store();
    const e = s.lifecycle.apply({ event: s.add(), effects: [{ kind: 'move', to: 'escalated' }] });
    const none = s.dispatcher.assign(e, T0);
    expect(none.effects.map((x) => (x.kind === 'send' ? x.topic : x.kind === 'move' ? x.to : x.kind))).toEqual([
      'unassigned',
      't/v1/gateways/gw/alerts',
    ]);
    s.roster.report({ id: 'far', lat: CAM.lat + 0.01, lon: CAM.lon, onDuty: true, busy: false, reportedAt: T0 });
    s.roster.report({ id: 'near', lat: CAM.lat + 0.001, lon: CAM.lon, onDuty: true, busy: false, reportedAt: T0 });
    const offer = s.dispatcher.assign(e, T0);
    expect(offer.effects[1]).toMatchObject({
      kind: 'move',
      to: 'dispatched',
      officerId: 'near',
      dueAt: T0 + DEFAULT_DISPATCH.ackTimeoutS * 1000,
    });
    expect(s.repo.get(e.id)!.state).toBe('escalated'); // deciding wrote nothing
  });

  it('a decline sends the event back to escalated and asks for the next officer; a stranger changes nothing', () => {
    const s = store();
    s.roster.report({ id: 'near', lat: CAM.lat, lon: CAM.lon, onDuty: true, busy: false, reportedAt: T0 });
    const e = s.lifecycle.apply({ event: s.add(), effects: [{ kind: 'move', to: 'escalated' }] });
    const dispatched = s.lifecycle.apply(s.dispatcher.assign(e, T0));
    const id = s.dispatcher.dispatches.current(e.id)!.id;
    expect(s.dispatcher.answer('far', { dispatch_id: id, action: 'accept' } as never, T0).result).toMatchObject({
      changed: false,
      error: `dispatch ${id} was offered to near, not far`,
    });
    const { result, decision } = s.dispatcher.answer('near', { dispatch_id: id, action: 'decline', reason: '忙' } as never, T0 + 1000);
    expect(result).toEqual({ known: true, changed: true, state: 'declined' });
    expect(decision).toMatchObject({ next: 'assign', freed: true, event: { id: dispatched.id } });
    expect(decision!.effects.at(-1)).toMatchObject({ kind: 'move', to: 'escalated', reason: 'declined by 近 (near): 忙' });
  });
});

describe('one zone, one warning', () => {
  it('events confirmed within seconds in one zone are warned by one play, each with its own recheck', async () => {
    const s = store();
    const plays: WarnRequest[] = [];
    let release!: () => void;
    const playing = new Promise<void>((r) => (release = r));
    const warner = {
      warn: async (req: WarnRequest) => {
        plays.push(req);
        await playing;
        return req.speakers.map((speaker) => ({
          eventId: req.eventId,
          speaker,
          outcome: 'played' as const,
          code: null,
          reason: null,
          text: req.text,
          durationMs: 3000,
          at: s.clock.now(),
        }));
      },
    };
    const svc = new EventService({
      lifecycle: s.lifecycle,
      repo: s.repo,
      dispatch: s.dispatcher,
      warner,
      policy: policy(),
      gatewayId: 'gw',
      log: s.log,
      clock: s.clock,
      evidenceDir: tempDir('decisions-'),
      timeZone: 'Asia/Shanghai',
      cameras: new Map([['cam', { id: 'cam', name: 'cam', location: CAM, speakers: ['s1', 's2'] }]]),
      rules: new Map([['cam/z/illegal_parking', rule]]),
      presence: () => 'present',
    });
    const a = s.add('confirmed', T0);
    s.clock.t = T0 + 2000;
    const b = s.add('confirmed', T0 + 2000);
    svc.resume(); // both due now
    await new Promise((r) => setTimeout(r, 50));
    s.clock.t = T0 + 4000;
    const c = s.add('confirmed', T0 + 4000); // confirmed while the warning plays
    svc.resume();
    await new Promise((r) => setTimeout(r, 50));
    release();
    await new Promise((r) => setTimeout(r, 100));
    await svc.stop(1000);
    expect(plays).toHaveLength(1);
    const after = [a, b, c].map((e) => s.repo.get(e.id)!);
    expect(after.map((e) => e.state)).toEqual(['warned', 'warned', 'warned']);
    expect(after.map((e) => e.dueAt)).toEqual([1, 2, 3].map(() => T0 + 4000 + 60_000));
    const rows = s.db.prepare('SELECT event_id, speaker_id, outcome FROM warnings ORDER BY event_id, speaker_id').all();
    expect(rows).toHaveLength(6); // each event records the outcome on each speaker
  });
});
