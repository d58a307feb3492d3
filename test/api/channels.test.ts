/**
 * The channel table (gateway/api/channels.ts) is the only place a channel is written:
 * every topic `Topics` gives is one of its addresses, the AsyncAPI document lists exactly
 * its channels with its QoS and retain, no code under gateway/ writes a QoS or retain
 * flag by hand, and what a real Uplink puts on a real broker carries the table's flags.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import mqtt from 'mqtt';
import { parse } from 'yaml';
import { ulid } from 'ulid';
import { CHANNELS, COMMAND_ADDRESS, PAYLOADS, delivery, type ChannelKey } from '../../gateway/api/channels.ts';
import { Topics } from '../../gateway/api/topics.ts';
import { asyncApiDocument } from '../../gateway/api/asyncapi.ts';
import { ASYNCAPI_FILE } from '../../scripts/asyncapi.ts';
import { ROOT } from '../../gateway/paths.ts';
import { COMMANDS } from '../../gateway/api/schema/commands.ts';
import { openDb } from '../../gateway/store/db.ts';
import { OutboxRepo, PRIORITY } from '../../gateway/store/outbox.ts';
import { Uplink } from '../../gateway/uplink/uplink.ts';
import { silentLogger } from '../../gateway/log.ts';
import { systemClock } from '../../gateway/clock.ts';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { tempDir } from '../helpers/gateway.ts';

/** A prefix with a "/" in it, as the settings allow. */
const topics = new Topics('town/east', 'gw-1');
const filled = (address: string, params: Record<string, string>) =>
  address.replace(/\{(\w+)\}/g, (_m, p: string) => ({ prefix: 'town/east', gateway: 'gw-1', ...params })[p] ?? `<${p}>`);

describe('the channel table', () => {
  it('names every topic Topics gives: each is a table address, and each address comes back to its channel', () => {
    const given: [string, string, string][] = [
      [topics.status(), 'status', filled(CHANNELS.status.address, {})],
      [topics.events(), 'events', filled(CHANNELS.events.address, {})],
      [topics.eventState('E1'), 'eventState', filled(CHANNELS.eventState.address, { event: 'E1' })],
      [topics.warnings(), 'warnings', filled(CHANNELS.warnings.address, {})],
      [topics.dispatches(), 'dispatches', filled(CHANNELS.dispatches.address, {})],
      [topics.alerts(), 'alerts', filled(CHANNELS.alerts.address, {})],
      [topics.cameraHealth('c1'), 'cameraHealth', filled(CHANNELS.cameraHealth.address, { camera: 'c1' })],
      [topics.speakerHealth('s1'), 'speakerHealth', filled(CHANNELS.speakerHealth.address, { speaker: 's1' })],
      [topics.telemetry(), 'telemetry', filled(CHANNELS.telemetry.address, {})],
      [topics.stats(), 'stats', filled(CHANNELS.stats.address, {})],
      [topics.reply('stats'), 'replies', filled(CHANNELS.replies.address, { command: 'stats' })],
      [topics.command('shout'), 'commandShout', filled(CHANNELS.commandShout.address, {})],
      [topics.officerState('o1'), 'officerState', filled(CHANNELS.officerState.address, { officer: 'o1' })],
      [topics.officerDispatch('o1'), 'officerDispatch', filled(CHANNELS.officerDispatch.address, { officer: 'o1' })],
      [topics.officerReply('o1'), 'officerReply', filled(CHANNELS.officerReply.address, { officer: 'o1' })],
      [topics.address('officerClaim', { officer: 'o1' }), 'officerClaim', filled(CHANNELS.officerClaim.address, { officer: 'o1' })],
    ];
    for (const [topic, key, want] of given) {
      expect(topic, key).toBe(want);
      expect(topics.channelOf(topic), topic).toBe(key);
    }
    // Every channel with a topic of ours is reached (the response-topic reply has none).
    const reached = new Set(given.map(([, k]) => k));
    for (const [key, c] of Object.entries(CHANNELS))
      if (c.address.startsWith('{prefix}/') && !key.startsWith('command')) expect(reached.has(key), key).toBe(true);
    for (const n of Object.keys(COMMANDS)) expect(topics.channelOf(topics.command(n)), n).toMatch(/^command/);
    // Filters are the same addresses with "+" (and "#" for every command name).
    expect(topics.filter('officerClaim', { gateway: '+' })).toBe('town/east/v1/officers/+/claims/+');
    expect(topics.filter('status', { gateway: '+' })).toBe('town/east/v1/gateways/+/status');
    expect(topics.commandsAll()).toBe(filled(COMMAND_ADDRESS, { command: '#' }));
    expect(topics.paramsOf('officerClaim', 'town/east/v1/officers/o7/claims/gw-9')).toEqual({ officer: 'o7', gateway: 'gw-9' });
    expect(topics.paramsOf('status', 'town/east/v1/gateways/gw-9/stats')).toBeNull();
    expect(topics.channelOf('town/east/v1/gateways/gw-1/nowhere')).toBeNull();
  });

  it('topics.ts spells no topic of its own', () => {
    const code = readFileSync(join(ROOT, 'gateway/api/topics.ts'), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    const literals = [...code.matchAll(/(['`])((?:(?!\1).)*)\1/g)].map((m) => m[2]);
    expect(literals.filter((s) => /[a-z]\/|\/[a-z]/i.test(s) && !s.startsWith('./'))).toEqual([]);
  });

  it('names only payload schemas that exist, and every schema is on a channel', () => {
    const named = new Set(Object.values(CHANNELS).flatMap((c) => c.messages));
    for (const m of named) expect(PAYLOADS[m], m).toBeDefined();
    for (const m of Object.keys(PAYLOADS)) expect(named.has(m), m).toBe(true);
  });

  it('is what the AsyncAPI document (built and committed) lists: the same channels, addresses, QoS and retain', () => {
    const built = asyncApiDocument('test') as {
      channels: Record<string, { address: string; messages: Record<string, unknown> }>;
      operations: Record<string, { action: string; channel: { $ref: string }; bindings: { mqtt: { qos: number; retain: boolean } } }>;
    };
    const file = parse(readFileSync(ASYNCAPI_FILE, 'utf8')) as typeof built;
    for (const doc of [built, file]) {
      expect(Object.keys(doc.channels)).toEqual(Object.keys(CHANNELS));
      expect(Object.keys(doc.operations)).toHaveLength(Object.keys(CHANNELS).length);
      for (const [key, c] of Object.entries(CHANNELS)) {
        expect(doc.channels[key].address, key).toBe(c.address);
        expect(Object.keys(doc.channels[key].messages), key).toEqual(c.messages);
        const ops = Object.values(doc.operations).filter((o) => o.channel.$ref === `#/channels/${key}`);
        expect(ops, key).toHaveLength(1);
        expect(ops[0].action, key).toBe(c.direction === 'publish' ? 'send' : 'receive');
        expect(ops[0].bindings.mqtt, key).toMatchObject({ qos: c.qos, retain: c.retain });
      }
    }
    expect((file.operations.publishTelemetry.bindings.mqtt as { messageExpiryInterval?: number }).messageExpiryInterval).toBe(3600);
  });

  it('is the only code under gateway/ that writes a QoS or a retain flag', () => {
    const allowed = new Set(['gateway/api/channels.ts']);
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
        d.isDirectory() ? files(join(dir, d.name)) : /\.(ts|mts|mjs|js)$/.test(d.name) ? [join(dir, d.name)] : [],
      );
    const found: string[] = [];
    for (const f of files(join(ROOT, 'gateway'))) {
      const rel = relative(ROOT, f);
      if (allowed.has(rel)) continue;
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // A literal flag; a type such as `qos: 0 | 1` is not one.
          if (/\bqos:\s*[012]\b(?!\s*\|)|\bretain:\s*(true|false)\b/.test(line)) found.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
    // The check can fail: the table itself is caught by it.
    expect(readFileSync(join(ROOT, 'gateway/api/channels.ts'), 'utf8')).toMatch(/\bqos:\s*1,/);
  });
});

const ok = havePeers('mosquitto');

describe.runIf(ok)('what the uplink puts on the broker', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('carries the QoS and retain flag of each channel (retained status and stats, QoS 0 telemetry, QoS 1 alerts)', async () => {
    const t = new Topics('chan', 'gw-1');
    const db = openDb(join(tempDir('gw-channels-'), 'gw.db'));
    const u = new Uplink({
      url: broker.url,
      protocolVersion: 5,
      clientId: `gw-channels-${ulid()}`,
      topics: t,
      outbox: new OutboxRepo(db),
      log: silentLogger(),
      clock: systemClock,
      version: 'test',
    });
    u.start();
    u.publishRetained(t.stats(), '{"n":1}');
    expect(() => u.publishRetained(t.alerts(), '{}')).toThrow(/no retained channel/);
    expect(() => u.on('chan/v1/elsewhere/+', () => {})).toThrow(/no channel/);
    await expect.poll(() => u.connected, { timeout: 10_000 }).toBe(true);
    u.enqueue({ topic: t.telemetry(), payload: '{"t":1}', ...delivery('telemetry'), priority: PRIORITY.telemetry });
    u.enqueue({ topic: t.alerts(), payload: '{"a":1}', ...delivery('alerts'), priority: PRIORITY.event });
    u.flush();
    expect(await u.settle(10_000)).toBe(true);

    // A subscriber that comes later: only retained channels are still there, flagged retained.
    const seen = new Map<string, { qos: number; retain: boolean }>();
    const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `sub-${ulid()}` });
    sub.on('message', (topic, _p, packet) => seen.set(topic, { qos: packet.qos, retain: packet.retain }));
    await sub.subscribeAsync('chan/#', { qos: 1 });
    const names: Record<string, ChannelKey> = { [t.status()]: 'status', [t.stats()]: 'stats' };
    await expect.poll(() => seen.size, { timeout: 10_000 }).toBe(2);
    for (const [topic, got] of seen) expect(got, topic).toEqual(delivery(names[topic]));

    // Live: each message with its channel's QoS.
    seen.clear();
    u.enqueue({ topic: t.telemetry(), payload: '{"t":2}', ...delivery('telemetry'), priority: PRIORITY.telemetry });
    u.enqueue({ topic: t.alerts(), payload: '{"a":2}', ...delivery('alerts'), priority: PRIORITY.event });
    u.flush();
    await expect.poll(() => seen.size, { timeout: 10_000 }).toBe(2);
    expect(seen.get(t.telemetry())).toEqual({ qos: CHANNELS.telemetry.qos, retain: false });
    expect(seen.get(t.alerts())).toEqual({ qos: CHANNELS.alerts.qos, retain: false });
    await sub.endAsync();
    await u.stop();
    db.close();
  });
});
