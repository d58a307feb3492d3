/**
 * A broker outage during dispatch, with a real mosquitto stopped and started again: an
 * offer out when the broker goes is paused (its answer time does not run out unseen) and
 * sent again with its full answer time once the broker is back; no offer starts while it
 * is away; nobody is marked timed_out for an offer they could not receive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { injectEvent } from '../helpers/inject.ts';
import type { Gateway } from '../../gateway/controller.ts';

const ok = havePeers('mosquitto');
const CAM = { lat: 28.7712, lon: 118.5553 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const yaml = (dir: string, broker: string) => `
gateway: { id: gw-o, town: 贺村镇, data_dir: ${dir}/data }
mqtt: { url: '${broker}', prefix: o, protocol_version: 5 }
http: { enabled: false }
stats: { interval_s: 0 }
dispatch: { ack_timeout_s: 3, retry_s: 2, position_max_age_s: 600, max_jobs_per_officer: 1 }
cameras:
  - id: cam
    enabled: false
    url: rtsp://127.0.0.1:9/none
    location: { lat: ${CAM.lat}, lon: ${CAM.lon} }
    zones: [{ id: z, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], rules: [{ type: illegal_parking }] }]
officers:
  - { id: off-a, name: 甲, town: 贺村镇 }
  - { id: off-b, name: 乙, town: 贺村镇 }
`;

describe.runIf(ok)('dispatch during a broker outage', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let phone: MqttClient;
  let gw: Gateway;
  /** What the phones received, in order. */
  const got: { officer: string; json: Record<string, any> }[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    // Persistent sessions: what is published while a client reconnects waits for it at the broker.
    const persistent = { clean: false, reconnectPeriod: 300, properties: { sessionExpiryInterval: 3600 } };
    heard = await Collector.connect(broker.url, 'o/#', { ...persistent, clientId: 'watch-outage' });
    phone = await mqtt.connectAsync(broker.url, { ...persistent, protocolVersion: 5, clientId: 'phones-outage' });
    phone.on('message', (topic, payload) => got.push({ officer: topic.split('/')[3], json: JSON.parse(payload.toString()) }));
    await phone.subscribeAsync('o/v1/officers/+/dispatch', { qos: 1 });
    const dir = tempDir('gw-dispatch-outage-');
    gw = await startGateway(settingsAt(dir, yaml(dir, broker.url)));
    await heard.waitFor((m) => m.topic === 'o/v1/gateways/gw-o/status' && m.json?.state === 'online', 10_000, 'online');
    const at = new Date().toISOString();
    for (const [id, m] of [
      ['off-a', 200],
      ['off-b', 600],
    ] as const)
      await phone.publishAsync(`o/v1/officers/${id}/state`, JSON.stringify({ lat: CAM.lat + m / 111_320, lon: CAM.lon, at }), { qos: 1 });
    const end = Date.now() + 10_000;
    while ((gw.ctx.db.prepare('SELECT count(*) AS n FROM officer_state').get() as { n: number }).n < 2) {
      if (Date.now() > end) throw new Error('officer positions did not arrive');
      await sleep(50);
    }
  }, 30_000);

  afterAll(async () => {
    await phone?.endAsync(true);
    await heard?.close();
    await gw?.stop();
    await broker?.stop();
  });

  const offers = (officer: string, eventId: string) =>
    got.filter((m) => m.officer === officer && m.json.event_id === eventId && m.json.state === 'offered');
  const waitFor = async (what: string, cond: () => boolean, ms = 15_000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };
  const dispatches = (eventId: string) =>
    gw.ctx.db.prepare('SELECT officer_id AS officer, state FROM dispatches WHERE event_id = ? ORDER BY rowid').all(eventId);
  const stateOf = (eventId: string) => (gw.ctx.db.prepare('SELECT state FROM events WHERE id = ?').get(eventId) as { state: string }).state;
  const accept = (officer: string, dispatchId: string) =>
    phone.publishAsync(`o/v1/officers/${officer}/reply`, JSON.stringify({ dispatch_id: dispatchId, action: 'accept' }), { qos: 1 });

  it('pauses an offer out when the broker goes, makes none while it is away, and re-sends with full time after', async () => {
    const first = await injectEvent(gw, 'cam');
    await waitFor('the first offer to off-a', () => offers('off-a', first.id).length === 1);
    await broker.stop();

    // The broker is away for longer than the answer time (3 s), twice over.
    const second = await injectEvent(gw, 'cam');
    await sleep(7000);
    expect(gw.ctx.uplink.connected).toBe(false);
    expect(dispatches(first.id)).toEqual([{ officer: 'off-a', state: 'offered' }]);
    expect(stateOf(first.id)).toBe('dispatched');
    // No offer was started for the event confirmed during the outage.
    expect(dispatches(second.id)).toEqual([]);
    expect(stateOf(second.id)).toBe('escalated');

    await broker.start();
    // The paused offer again, to the same officer, under the same dispatch, with the full 3 s to answer.
    await waitFor('the re-sent offer to off-a', () => offers('off-a', first.id).length === 2);
    const [before, again] = offers('off-a', first.id);
    expect(again.json.dispatch_id).toBe(before.json.dispatch_id);
    expect(Date.parse(again.json.answer_by) - Date.parse(again.json.at)).toBe(3000);
    expect(Date.parse(again.json.at) - Date.parse(before.json.at)).toBeGreaterThan(7000);
    await accept('off-a', again.json.dispatch_id);
    // The event confirmed during the outage is offered now, to the free officer.
    await waitFor('the offer of the second event to off-b', () => offers('off-b', second.id).length === 1);
    await accept('off-b', offers('off-b', second.id)[0].json.dispatch_id);

    await waitFor('both accepted', () => stateOf(first.id) === 'acknowledged' && stateOf(second.id) === 'acknowledged');
    expect(dispatches(first.id)).toEqual([{ officer: 'off-a', state: 'accepted' }]);
    expect(dispatches(second.id)).toEqual([{ officer: 'off-b', state: 'accepted' }]);
    // Nobody timed out, and the platform heard no timeout either.
    expect(gw.ctx.db.prepare("SELECT count(*) AS n FROM dispatches WHERE state = 'timed_out'").get()).toEqual({ n: 0 });
    await heard.waitFor((m) => m.json?.event_id === second.id && m.json?.to === 'acknowledged', 10_000, 'second acknowledged');
    expect(heard.find((m) => m.json?.state === 'timed_out')).toEqual([]);
    expect(
      heard.find((m) => m.topic === `o/v1/gateways/gw-o/events/${first.id}/state`).map((m) => `${m.json!.to}:${m.json!.officer_id ?? ''}`),
    ).toEqual(['confirmed:', 'escalated:', 'dispatched:off-a', 'acknowledged:off-a']);
  }, 60_000);
});
