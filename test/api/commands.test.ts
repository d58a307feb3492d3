/**
 * Commands from the platform against a real mosquitto, under MQTT 5 (response topic,
 * correlation data, message expiry) and MQTT 3.1.1 (the replies topic): the good ones do
 * what they say; bad ones (malformed JSON, unknown command, wrong types, expired,
 * retained, a foreign gateway's topic) get an error reply, a log line and change nothing.
 * A recording RTP speaker shows what was (and was not) played.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, tempDir } from '../helpers/gateway.ts';
import { injectEvent } from '../helpers/inject.ts';
import { loadContract } from '../helpers/contract.ts';
import { RtpRecorder } from '../../scripts/sim/rtp-speaker.ts';
import { PlatformSim } from '../../scripts/sim/platform.ts';
import { Gateway } from '../../gateway/controller.ts';
import type { EventRecord } from '../../gateway/events/types.ts';

const ok = havePeers('mosquitto', 'espeak-ng', 'ffmpeg');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function yaml(dir: string, broker: string, v: 4 | 5, port: number, extra = '') {
  return `
gateway: { id: gw-c${v}, town: 贺村镇, data_dir: ${dir}/data }
mqtt: { url: '${broker}', prefix: t, protocol_version: ${v} }
http: { enabled: false }
stats: { interval_s: 0 }
dispatch: { retry_s: 60 }
cameras:
  - id: cam-spk
    enabled: false
    url: rtsp://127.0.0.1:9/none
    location: { lat: 28.77, lon: 118.55 }
    speakers: [spk]
    zones: [{ id: z, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], rules: [{ type: illegal_parking }] }]
  - id: cam-quiet
    enabled: false
    url: rtsp://127.0.0.1:9/none
    location: { lat: 28.77, lon: 118.55 }
    zones: [{ id: z, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], rules: [{ type: street_vending }] }]
speakers:
  - { id: spk, url: 'rtp://127.0.0.1:${port}' }
officers:
  - { id: off-1, name: 一 }
${extra}`;
}

describe.runIf(ok).each([5, 4] as const)('platform commands over MQTT %i', (v) => {
  let broker: Mosquitto;
  let heard: Collector;
  let platform: PlatformSim;
  let gw: Gateway;
  let dir: string;
  const speaker = new RtpRecorder({ port: 0 });
  const logLines: Record<string, any>[] = [];
  const G = `t/v1/gateways/gw-c${v}`;

  const start = async () => {
    const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (logLines.push(JSON.parse(String(c))), cb()) }));
    gw = new Gateway({ config: settingsAt(dir, yaml(dir, broker.url, v, speaker.port)), log });
    await gw.start();
    await heard.waitFor((m) => m.topic === `${G}/status` && m.json?.state === 'online' && m.at > Date.now() - 5000, 10_000, 'online');
  };
  /** An event that sits still (no speaker, no officer): unassigned. */
  const quietEvent = async () => {
    const e = await injectEvent(gw, 'cam-quiet');
    await heard.waitFor((m) => m.json?.event_id === e.id && m.json?.to === 'unassigned', 10_000, 'unassigned');
    return e;
  };
  const snapshot = (e: EventRecord) => ({
    state: gw.ctx.db.prepare('SELECT state FROM events WHERE id = ?').get(e.id),
    n: gw.ctx.db.prepare('SELECT count(*) AS n FROM event_transitions WHERE event_id = ?').get(e.id),
    spurts: speaker.spurts.length,
  });
  /** Publishes raw bytes and waits for the reply on the replies topic (or the response topic under MQTT 5). */
  const raw = async (
    topic: string,
    payload: string,
    o: { retain?: boolean; props?: Record<string, unknown>; replyTopic?: string } = {},
  ) => {
    const since = heard.messages.length;
    await platform.client.publishAsync(topic, payload, { qos: 1, retain: o.retain ?? false, ...(o.props ? { properties: o.props } : {}) });
    return heard.waitFor(
      (m) => heard.messages.indexOf(m) >= since && m.topic === (o.replyTopic ?? `${G}/replies/${topic.split('/commands/')[1]}`),
      10_000,
      `reply on ${topic}`,
    );
  };

  beforeAll(async () => {
    broker = await startMosquitto();
    await speaker.start();
    heard = await Collector.connect(broker.url, 't/#');
    platform = new PlatformSim({ broker: broker.url, prefix: 't', protocolVersion: v });
    await platform.start();
    dir = tempDir('gw-commands-');
    await start();
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    await platform?.stop();
    await heard?.close();
    speaker.stop();
    await broker?.stop();
  });

  it('resolve and cancel an event; a second try is a conflict; an unknown event is not found', async () => {
    const a = await quietEvent();
    const r1 = await platform.request(`gw-c${v}`, 'resolve', { event_id: a.id, reason: '网格员已处理' });
    expect(r1).toMatchObject({ status: 'ok', command: 'resolve', data: { event_id: a.id, from: 'unassigned', to: 'closed' } });
    const t = await heard.waitFor((m) => m.json?.event_id === a.id && m.json?.to === 'closed', 5000, 'closed');
    expect(t.json).toMatchObject({ reason: '网格员已处理', by: 'platform' });
    expect(await platform.request(`gw-c${v}`, 'resolve', { event_id: a.id })).toMatchObject({
      status: 'error',
      error: { code: 'conflict' },
    });
    const b = await quietEvent();
    expect(await platform.request(`gw-c${v}`, 'cancel', { event_id: b.id, reason: '误报' })).toMatchObject({
      status: 'ok',
      data: { to: 'cancelled' },
    });
    expect(await platform.request(`gw-c${v}`, 'cancel', { event_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV', reason: 'x' })).toMatchObject({
      status: 'error',
      error: { code: 'not_found' },
    });
  });

  it('rejects malformed JSON, unknown commands, wrong types and expired commands, changing nothing', async () => {
    const e = await quietEvent();
    const before = snapshot(e);
    const bad = await raw(`${G}/commands/cancel`, `{"event_id": "${e.id}", "reason": `);
    expect(bad.json).toMatchObject({ status: 'error', command: 'cancel', error: { code: 'bad_json' } });
    const unknown = await raw(`${G}/commands/explode`, JSON.stringify({ event_id: e.id, transaction: 't-1' }));
    expect(unknown.json).toMatchObject({ status: 'error', error: { code: 'unknown_command' }, transaction: 't-1' });
    const nested = await raw(`${G}/commands/cancel/now`, JSON.stringify({ event_id: e.id, reason: 'x' }), {
      replyTopic: `${G}/replies/cancel_now`,
    });
    expect(nested.json!.error.code).toBe('unknown_command');
    const types = await raw(`${G}/commands/cancel`, JSON.stringify({ event_id: 42, reason: ['x'], extra: true }));
    expect(types.json!.error.code).toBe('invalid');
    expect(types.json!.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['event_id', 'extra', 'reason']);
    const missing = await platform.request(`gw-c${v}`, 'cancel', { event_id: e.id });
    expect(missing).toMatchObject({ status: 'error', error: { code: 'invalid', details: [{ path: 'reason', message: 'is required' }] } });
    const expired = await platform.request(`gw-c${v}`, 'cancel', {
      event_id: e.id,
      reason: 'late',
      expires_at: new Date(Date.now() - 60_000).toISOString(),
    });
    expect(expired).toMatchObject({ status: 'error', error: { code: 'expired' } });
    const stale = await platform.request(`gw-c${v}`, 'shout', {
      cameras: ['cam-spk'],
      text: '迟到的喊话',
      expires_at: new Date(Date.now() - 1000).toISOString(),
    });
    expect(stale.error?.code).toBe('expired');
    const noExpiry = await platform.request(`gw-c${v}`, 'shout', { cameras: ['cam-spk'], text: '没有期限' });
    expect(noExpiry.error?.code).toBe('invalid');
    await sleep(1500);
    expect(snapshot(e)).toEqual(before);
    // Each rejection is in the log, with its reason.
    const rejected = logLines.filter((l) => l.msg === 'command rejected' || l.msg === 'command failed').map((l) => l.code);
    expect(rejected).toEqual(expect.arrayContaining(['bad_json', 'unknown_command', 'invalid', 'expired']));
  });

  it("ignores commands on another gateway's topic", async () => {
    const e = await quietEvent();
    const before = snapshot(e);
    await platform.client.publishAsync(
      't/v1/gateways/gw-other/commands/cancel',
      JSON.stringify({ event_id: e.id, reason: 'not yours', transaction: 'foreign' }),
      { qos: 1 },
    );
    await sleep(1500);
    expect(snapshot(e)).toEqual(before);
    expect(heard.find((m) => m.json?.transaction === 'foreign' && m.json?.status !== undefined)).toHaveLength(0);
  });

  it.runIf(v === 5)('refuses a retained command', async () => {
    const e = await quietEvent();
    const before = snapshot(e);
    const r = await raw(`${G}/commands/cancel`, JSON.stringify({ event_id: e.id, reason: 'retained' }), { retain: true });
    expect(r.json!.error.code).toBe('retained');
    await platform.client.publishAsync(`${G}/commands/cancel`, '', { qos: 1, retain: true });
    await sleep(500);
    expect(snapshot(e)).toEqual(before);
  });

  it('plays test_speaker and shout on the speaker; a repeated transaction plays once', async () => {
    const n = speaker.spurts.length;
    const t = await platform.request(`gw-c${v}`, 'test_speaker', { speaker: 'spk', text: '测试' }, { timeoutMs: 20_000 });
    expect(t).toMatchObject({ status: 'ok', data: { speaker: 'spk', outcome: 'played' } });
    const shout = {
      cameras: ['cam-spk'],
      text: '请立即离开河道',
      expires_at: new Date(Date.now() + 60_000).toISOString(),
      transaction: `shout-${v}`,
    };
    const s1 = await platform.request(`gw-c${v}`, 'shout', shout, { timeoutMs: 20_000 });
    const s2 = await platform.request(`gw-c${v}`, 'shout', shout, { timeoutMs: 20_000 });
    expect(s1).toMatchObject({ status: 'ok', data: { outcomes: [{ speaker: 'spk', outcome: 'played' }] } });
    expect(s2).toEqual(s1);
    await sleep(1500);
    expect(speaker.spurts.length).toBe(n + 2);
    expect(await platform.request(`gw-c${v}`, 'test_speaker', { speaker: 'nope' })).toMatchObject({
      status: 'error',
      error: { code: 'not_found' },
    });
    const w = heard.find((m) => m.topic === `${G}/warnings` && m.json!.event_id === null).map((m) => m.json!.text);
    expect(w).toEqual(['测试', '请立即离开河道']);
  });

  it.runIf(v === 5)('a shout that expires while the gateway is away never plays; other commands wait for it', async () => {
    const n = speaker.spurts.length;
    await gw.stop();
    const since = heard.messages.length;
    await platform.client.publishAsync(
      `${G}/commands/shout`,
      JSON.stringify({ cameras: ['cam-spk'], text: '过期的喊话', transaction: 'stale' }),
      { qos: 1, properties: { messageExpiryInterval: 1 } },
    );
    await platform.client.publishAsync(`${G}/commands/stats`, JSON.stringify({ transaction: 'waited' }), { qos: 1 });
    await sleep(2500);
    await start();
    const r = await heard.waitFor(
      (m) => heard.messages.indexOf(m) >= since && m.topic === `${G}/replies/stats`,
      10_000,
      'stats reply after restart',
    );
    expect(r.json).toMatchObject({ status: 'ok', transaction: 'waited' });
    await sleep(2000);
    expect(speaker.spurts.length).toBe(n);
    expect(heard.find((m) => m.topic.includes('/replies/') && m.json?.transaction === 'stale')).toHaveLength(0);
  });

  it('reloads officers and dispatch settings at once, and says what needs a restart', async () => {
    const file = join(dir, 'settings.yaml');
    const text = readFileSync(file, 'utf8');
    writeFileSync(
      file,
      text
        .replace('  - { id: off-1, name: 一 }', '  - { id: off-1, name: 一 }\n  - { id: off-2, name: 二 }')
        .replace('retry_s: 60', 'retry_s: 45')
        .replace('id: cam-spk', 'id: cam-spk\n    name: 新名字'),
    );
    const r = await platform.request(`gw-c${v}`, 'reload_config', {});
    expect(r.status).toBe('ok');
    expect(r.data.changed.sort()).toEqual(['cameras', 'dispatch', 'officers']);
    expect(r.data.applied.sort()).toEqual(['dispatch', 'officers']);
    expect(r.data.restart_required).toEqual(['cameras']);
    writeFileSync(file, `${readFileSync(file, 'utf8')}\nunknown_section: 1\n`);
    const bad = await platform.request(`gw-c${v}`, 'reload_config', {});
    expect(bad).toMatchObject({ status: 'error', error: { code: 'invalid_config' } });
    expect(bad.error!.details![0].message).toMatch(/settings\.yaml:\d+:\d+: unknown_section: unknown key/);
    writeFileSync(file, text);
  });

  it('answers stats with the settled-by-warning share and the stage times', async () => {
    const r = await platform.request(`gw-c${v}`, 'stats', {});
    expect(r.status).toBe('ok');
    expect(r.data.events.total).toBeGreaterThanOrEqual(4);
    expect(r.data.by_type.street_vending).toBe(r.data.events.total);
    expect(r.data.settled_by_warning).toMatchObject({ resolved: 0, share: 0 });
    // Asked without a window, the answer is also the new retained statistics.
    const published = await heard.waitFor((m) => m.topic === `${G}/stats`, 5000, 'stats topic');
    expect(published.json!.events.total).toBe(r.data.events.total);
  });

  it('published only messages that match the contract, replies included', async () => {
    const contract = await loadContract('t');
    const problems: string[] = [];
    // What the test itself sent (commands, also to undocumented names) is not the gateway's.
    for (const m of heard.messages.filter((x) => !x.topic.startsWith('t/v1/platform/') && !x.topic.includes('/commands/'))) {
      const r = contract.check(m.topic, m.json ?? m.text);
      if (r !== 'incoming') problems.push(...r);
    }
    for (const m of platform.messages.filter((x) => x.topic.startsWith('t/v1/platform/'))) {
      const name =
        m.json!.status === 'ok'
          ? `${m
              .json!.command.split('_')
              .map((w: string) => w[0].toUpperCase() + w.slice(1))
              .join('')}Reply`
          : 'ErrorReply';
      const errs = contract.checkMessage(name, m.json);
      // An error reply to a known command is valid as that command's reply too.
      if (errs.length && contract.checkMessage('ErrorReply', m.json).length) problems.push(...errs.map((e) => `${m.topic} ${name}: ${e}`));
    }
    expect(problems).toEqual([]);
  });
});
