/**
 * Three gateways (child processes) on one real mosquitto share three officers. 30 events
 * are confirmed across the boxes within a few seconds: every one is dispatched and closed,
 * no officer ever holds two open jobs (checked on the MQTT stream, from every box's
 * offers and answers), and declines and timeouts still move on. Then one box is killed
 * with SIGKILL in the middle of a claim: its claim expires on the broker and the others
 * go on dispatching that officer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector, type Heard } from '../helpers/collector.ts';
import { tempDir } from '../helpers/gateway.ts';
import { Box } from '../helpers/boxes.ts';
import { loadContract } from '../helpers/contract.ts';
import { OfficerSim, type SimOfficer } from '../../scripts/sim/officers.ts';

const ok = havePeers('mosquitto');
const CAM = { lat: 28.7712, lon: 118.5553 };
const north = (id: string, m: number, extra: Partial<SimOfficer> = {}): SimOfficer => ({
  id,
  lat: CAM.lat + m / 111_320,
  lon: CAM.lon,
  ...extra,
});
const TTL_S = 5;

function settings(id: string, dir: string, broker: string): string {
  return `
gateway: { id: ${id}, town: 贺村镇, data_dir: ${dir}/${id} }
mqtt: { url: '${broker}', prefix: t, protocol_version: 5, will_delay_s: 60 }
http: { host: 127.0.0.1, port: 0 }
stats: { interval_s: 0 }
fleet: { claims: true, claim_settle_ms: 400, claim_ttl_s: ${TTL_S} }
dispatch: { ack_timeout_s: 2, retry_s: 1, position_max_age_s: 600, max_jobs_per_officer: 1, reask_after_s: 900 }
cameras:
  - id: cam-${id}
    enabled: false
    url: rtsp://127.0.0.1:9/none
    location: { lat: ${CAM.lat}, lon: ${CAM.lon} }
    zones:
      - { id: z, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], rules: [{ type: illegal_parking }] }
officers:
  - { id: off-1, name: 一, town: 贺村镇 }
  - { id: off-2, name: 二, town: 贺村镇 }
  - { id: off-3, name: 三, town: 贺村镇 }
`;
}

/** Per officer, the dispatches open at each moment of the stream; returns every moment with two or more. */
function doubleBookings(stream: Heard[]): string[] {
  const open = new Map<string, Set<string>>();
  const found: string[] = [];
  for (const m of stream) {
    if (!/^t\/v1\/gateways\/[^/]+\/dispatches$/.test(m.topic) || !m.json) continue;
    const { officer_id: officer, dispatch_id: id, state } = m.json;
    const s = open.get(officer) ?? new Set<string>();
    open.set(officer, s);
    if (['offered', 'accepted', 'arrived'].includes(state)) s.add(id);
    else s.delete(id);
    if (s.size > 1) found.push(`${officer} holds ${[...s].join(', ')}`);
  }
  return found;
}

describe.runIf(ok)('officers shared by three gateways', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let sim: OfficerSim;
  const boxes: Box[] = [];
  const dir = tempDir('gw-fleet-');

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url, 't/#');
    sim = new OfficerSim({
      broker: broker.url,
      prefix: 't',
      officers: [
        north('off-1', 200, { behaviour: 'accept' }),
        // One decline, then accepts; one offer left unanswered (times out), then accepts.
        north('off-2', 400, { behaviour: ['accept', 'decline', 'accept'] }),
        north('off-3', 600, { behaviour: ['accept', 'ignore', 'accept'] }),
      ],
      walk: false,
      everyMs: 1000,
      answerAfterS: 0.2,
      speedMps: 400,
      workS: 0.3,
    });
    await sim.start();
    boxes.push(...(await Promise.all(['gw-1', 'gw-2', 'gw-3'].map((id) => Box.start(id, dir, settings(id, dir, broker.url))))));
    // Every box has the officers' positions and the others' retained claims before the first event.
    await new Promise((r) => setTimeout(r, 2000));
  }, 120_000);

  afterAll(async () => {
    await sim?.stop();
    await Promise.all(boxes.map((b) => b.stop()));
    await heard?.close();
    await broker?.stop();
  });

  // Closed, and the platform has heard the dispatch's own "closed" (it leaves just after the transition).
  const closed = (id: string) =>
    heard.find((m) => m.json?.event_id === id && m.json?.to === 'closed').length > 0 &&
    heard.find((m) => m.json?.event_id === id && m.topic.endsWith('/dispatches') && m.json?.state === 'closed').length > 0;

  it('dispatches 30 events confirmed across the boxes at once, never one officer twice', async () => {
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => boxes[i % 3]!.inject(`cam-${boxes[i % 3]!.id}`)));
    const end = Date.now() + 150_000;
    while (!ids.every(closed)) {
      if (Date.now() > end)
        throw new Error(
          `not closed: ${ids.filter((id) => !closed(id)).join(', ')}; double bookings: ${doubleBookings(heard.messages).join('; ') || 'none'}`,
        );
      await new Promise((r) => setTimeout(r, 500));
    }
    const dispatches = heard.find((m) => /^t\/v1\/gateways\/[^/]+\/dispatches$/.test(m.topic));
    // Every event was dispatched (offered, then closed by an officer), on all three boxes.
    for (const id of ids) expect(dispatches.some((m) => m.json!.event_id === id && m.json!.state === 'closed')).toBe(true);
    expect(new Set(dispatches.map((m) => m.topic)).size).toBe(3);
    expect(doubleBookings(heard.messages)).toEqual([]);
    // The decline and the timeout each moved their event on to another officer.
    for (const refused of ['declined', 'timed_out']) {
      const r = dispatches.find((m) => m.json!.state === refused);
      expect(r, refused).toBeDefined();
      const next = dispatches.filter((m) => m.json!.event_id === r!.json!.event_id && m.json!.state === 'offered');
      expect(next.length).toBeGreaterThanOrEqual(2);
    }
    // Claims were really contended: some box lost a race or found an officer held elsewhere.
    const claims = heard.find((m) => /^t\/v1\/officers\/[^/]+\/claims\/[^/]+$/.test(m.topic) && m.text !== '');
    expect(claims.length).toBeGreaterThanOrEqual(30);
    const contract = await loadContract('t');
    // An empty retained payload clears a claim (documented on the channel); everything else must match.
    const problems = heard.messages.flatMap((m) => {
      if (m.text === '' && m.topic.includes('/claims/')) return [];
      const r = contract.check(m.topic, m.json ?? m.text);
      return r === 'incoming' ? [] : r.map((p) => `${m.topic}: ${p}`);
    });
    expect(problems).toEqual([]);
  }, 180_000);

  it('a box killed in the middle of a claim: its claim expires and the others carry on', async () => {
    const [gw1, gw2, gw3] = boxes as [Box, Box, Box];
    await new Promise((r) => setTimeout(r, 1500)); // every officer reported free
    const from = heard.messages.length;
    const e3 = await gw3.inject('cam-gw-3');
    const claim = await heard.waitFor((m) => m.topic.endsWith('/claims/gw-3') && m.json?.event_id === e3, 10_000, 'a claim by gw-3');
    gw3.kill9();
    const officer = claim.json!.officer_id as string;
    await new Promise((r) => setTimeout(r, 1000));
    // Killed before its settle window ended: it never offered the job.
    expect(heard.messages.slice(from).filter((m) => m.json?.event_id === e3 && m.topic.endsWith('/dispatches'))).toEqual([]);

    // The others go on at once with the officers gw-3 does not hold.
    const e1 = await gw1.inject('cam-gw-1');
    const first = await heard.waitFor((m) => m.json?.event_id === e1 && m.json?.state === 'offered', 10_000, 'offer for e1');
    expect(first.json!.officer_id).not.toBe(officer);

    // After the claim's time to live the broker has forgotten it, and the officer is dispatched again.
    await new Promise((r) => setTimeout(r, TTL_S * 1000));
    const fresh = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const retained: string[] = [];
    fresh.on('message', (t, p) => p.length && retained.push(t));
    await fresh.subscribeAsync('t/v1/officers/+/claims/gw-3', { qos: 1 });
    await new Promise((r) => setTimeout(r, 500));
    await fresh.endAsync();
    expect(retained).toEqual([]);
    const more = await Promise.all([gw1.inject('cam-gw-1'), gw2.inject('cam-gw-2')]);
    const again = await heard.waitFor(
      (m) => more.includes(m.json?.event_id) && m.json?.state === 'offered' && m.json?.officer_id === officer,
      15_000,
      `an offer to ${officer}`,
    );
    expect(again.topic).not.toMatch(/gw-3/);
    for (const id of [e1, ...more]) {
      const end = Date.now() + 30_000;
      while (!closed(id)) {
        if (Date.now() > end) throw new Error(`${id} not closed`);
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    expect(doubleBookings(heard.messages)).toEqual([]);
  }, 90_000);
});
