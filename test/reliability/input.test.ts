/**
 * Hostile input over MQTT against a real mosquitto and a real gateway: the 10 MB command
 * with 900,000 unknown keys is refused unread (an error reply, a short log line, the event
 * loop free); a response topic inside the contract's own tree is not used; a reply too
 * large for the cap becomes an error saying so; an officer's `busy` that is not a boolean
 * ("yes", 1, null) is refused, never stored as "not busy".
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, tempDir } from '../helpers/gateway.ts';
import { Gateway } from '../../gateway/controller.ts';
import { MAX_REPLY_BYTES, sendReply } from '../../gateway/commands/envelope.ts';
import type { Uplink } from '../../gateway/uplink/uplink.ts';

const ok = havePeers('mosquitto');
const G = 'i/v1/gateways/gw-i';

describe.runIf(ok)('hostile MQTT input', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let gw: Gateway;
  const lines: string[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    // Not i/#: the listener must not itself spend seconds parsing the 10 MB command.
    heard = await Collector.connect(broker.url, 'i/platform/#');
    await heard.client.subscribeAsync(
      [`${G}/status`, `${G}/replies/#`, 'i/v1/officers/#', `${G}/commands/shout`, 'i/v1/gateways/other/#'],
      { qos: 1 },
    );
    const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    const yaml = `gateway: { id: gw-i }\nmqtt: { url: '${broker.url}', prefix: i }\nhttp: { enabled: false }\nstats: { interval_s: 0 }\ncameras: []\nofficers: [{ id: off-1, name: 一 }]\n`;
    gw = new Gateway({ config: settingsAt(tempDir('gw-input-'), yaml), log });
    await gw.start();
    await heard.waitFor((m) => m.topic === `${G}/status` && m.json?.state === 'online', 10_000, 'online');
  }, 30_000);

  afterAll(async () => {
    await gw?.stop();
    await heard?.close();
    await broker?.stop();
  });

  it('a 10 MB command with 900,000 keys gets a too_large reply, a bounded log line, and does not block the loop', async () => {
    const big = JSON.stringify(Object.fromEntries(Array.from({ length: 900_000 }, (_, i) => [`k${i}`, i])));
    expect(big.length).toBeGreaterThan(10_000_000);
    let maxLag = 0;
    let last = performance.now();
    const tick = setInterval(() => {
      maxLag = Math.max(maxLag, performance.now() - last - 10);
      last = performance.now();
    }, 10);
    const since = lines.length;
    await heard.client.publishAsync(`${G}/commands/stats`, big, {
      qos: 1,
      properties: { responseTopic: 'i/platform/replies/x', correlationData: Buffer.from('c1') },
    });
    const r = await heard.waitFor((m) => m.topic === 'i/platform/replies/x', 20_000, 'reply');
    clearInterval(tick);
    expect(r.json).toMatchObject({ status: 'error', command: 'stats', error: { code: 'too_large' } });
    expect(r.json!.error.message).toMatch(/payload of \d+ bytes is larger than the 262144 bytes/);
    expect(r.text.length).toBeLessThan(1000);
    const said = lines.slice(since).filter((l) => l.includes('too large'));
    expect(said).toHaveLength(1);
    expect(said[0].length).toBeLessThan(1000);
    // Parsing and validating 10 MB took ~6 s of loop time; refusing it unread takes none (the machine is shared: a wide margin).
    expect(maxLag).toBeLessThan(1000);
  });

  it('a response topic inside the contract tree is not used; the reply goes to the replies topic', async () => {
    for (const rt of [`${G}/commands/shout`, 'i/v1/officers/off-1/dispatch', `${G}/status`, 'i/v1/gateways/other/commands/resolve']) {
      const since = heard.messages.length;
      await heard.client.publishAsync(`${G}/commands/stats`, '{"transaction":"t-rt"}', {
        qos: 1,
        properties: { responseTopic: rt, correlationData: Buffer.from('c2') },
      });
      const r = await heard.waitFor((m) => heard.messages.indexOf(m) >= since && m.topic === `${G}/replies/stats`, 10_000, rt);
      expect(r.json).toMatchObject({ status: 'ok', transaction: 't-rt' });
      expect(heard.messages.slice(since).filter((m) => m.topic === rt)).toEqual([]);
    }
  });

  it('an officer state with busy "yes", 1 or null is refused; the stored state stays busy', async () => {
    const topic = 'i/v1/officers/off-1/state';
    const state = () => gw.ctx.db.prepare('SELECT busy, on_duty AS onDuty, lat FROM officer_state WHERE officer_id = ?').get('off-1');
    const t0 = Date.now() - 60_000;
    await heard.client.publishAsync(topic, JSON.stringify({ lat: 28.7, lon: 118.5, busy: true, at: t0 }), { qos: 1 });
    const end = Date.now() + 5000;
    while (!state() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(state()).toEqual({ busy: 1, onDuty: 1, lat: 28.7 });
    const since = lines.length;
    for (const [i, busy] of ['"yes"', '1', 'null', '"false"'].entries())
      await heard.client.publishAsync(topic, `{"lat": 28.8, "lon": 118.5, "busy": ${busy}, "at": ${t0 + 1000 * (i + 1)}}`, { qos: 1 });
    const refused = () => lines.slice(since).filter((l) => l.includes('bad officer state'));
    while (refused().length < 4 && Date.now() < end + 5000) await new Promise((r) => setTimeout(r, 20));
    expect(refused().map((l) => JSON.parse(l).err)).toEqual(Array(4).fill('busy: must be boolean'));
    expect(state()).toEqual({ busy: 1, onDuty: 1, lat: 28.7 });
  });

  it('a reply over the cap becomes a too_large error', () => {
    const sent: string[] = [];
    const uplink = { publishNow: (_t: string, p: string) => sent.push(p) } as unknown as Uplink;
    const reply = {
      status: 'ok' as const,
      command: 'stats',
      gateway: 'gw',
      at: '',
      transaction: 't',
      data: { x: 'y'.repeat(MAX_REPLY_BYTES) },
    };
    sendReply(uplink, { topic: 'r', requested: false }, reply as never, false);
    expect(JSON.parse(sent[0])).toMatchObject({ status: 'error', transaction: 't', error: { code: 'too_large' } });
    expect(sent[0].length).toBeLessThan(2000);
  });
});
