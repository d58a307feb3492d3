/**
 * The durable outbox against a real mosquitto: the broker goes away in the middle of a
 * burst of events and comes back; every event arrives, in order per event, none as two
 * events. Then a "power cut": the gateway's process state is dropped without a goodbye
 * and a new one on the same database sends what was still pending.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ulid } from 'ulid';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { tempDir } from '../helpers/gateway.ts';
import { openDb, type Db } from '../../gateway/store/db.ts';
import { OutboxRepo, PRIORITY } from '../../gateway/store/outbox.ts';
import { Uplink } from '../../gateway/uplink/uplink.ts';
import { Topics } from '../../gateway/api/topics.ts';
import { silentLogger } from '../../gateway/log.ts';
import { systemClock } from '../../gateway/clock.ts';

const ok = havePeers('mosquitto');
const OUTAGE_S = Number(process.env.OUTAGE_S ?? 12);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function uplink(db: Db, url: string, protocolVersion: 4 | 5 = 5): Uplink {
  return new Uplink({
    url,
    protocolVersion,
    clientId: `gw-outage-${ulid()}`,
    topics: new Topics('o', 'gw'),
    outbox: new OutboxRepo(db),
    log: silentLogger(),
    clock: systemClock,
    version: 'test',
  });
}

/** Two messages per event (confirmed, then a state change) that must keep their order. */
function emit(u: Uplink, db: Db, i: number): string {
  const id = `ev-${String(i).padStart(4, '0')}`;
  db.transaction(() => {
    u.enqueue({ topic: 'o/v1/gateways/gw/events', payload: JSON.stringify({ id, n: 1 }), qos: 1, priority: PRIORITY.event, orderKey: id });
    u.enqueue({
      topic: `o/v1/gateways/gw/events/${id}/state`,
      payload: JSON.stringify({ event_id: id, n: 2 }),
      qos: 1,
      priority: PRIORITY.dispatch,
      orderKey: id,
    });
  })();
  u.flush();
  return id;
}

describe.runIf(ok)('durable outbox through a broker outage', () => {
  let broker: Mosquitto;
  let heard: Collector;

  beforeAll(async () => {
    broker = await startMosquitto();
    // A persistent session: the broker keeps what it queued for us across its restart.
    heard = await Collector.connect(broker.url, 'o/#', { clientId: 'platform-sim', clean: false, protocolVersion: 4 });
  });

  afterAll(async () => {
    await heard?.close();
    await broker?.stop();
  });

  it(
    `delivers every event of a burst across a ${OUTAGE_S} s outage, in order, none twice`,
    async () => {
      const db = openDb(join(tempDir('gw-outage-'), 'gw.db'));
      const u = uplink(db, broker.url);
      u.start();
      const ids: string[] = [];
      const N = 500;
      let outageDone: Promise<void> | null = null;
      for (let i = 0; i < N; i++) {
        ids.push(emit(u, db, i));
        if (i === 150) {
          outageDone = (async () => {
            await broker.stop();
            await sleep(OUTAGE_S * 1000);
            await broker.start();
          })();
        }
        await sleep(i > 150 && i < 300 ? (OUTAGE_S * 1000) / 150 : 5);
      }
      await outageDone;
      expect(await u.settle(30_000)).toBe(true);
      await heard.waitFor(
        () => new Set(heard.find((m) => m.topic.endsWith('/state')).map((m) => m.json!.event_id)).size === N,
        30_000,
        'all state messages',
      );
      await sleep(500);

      const confirmed = heard.find((m) => m.topic === 'o/v1/gateways/gw/events');
      const states = heard.find((m) => m.topic.endsWith('/state'));
      // Every event arrived...
      expect(new Set(confirmed.map((m) => m.json!.id))).toEqual(new Set(ids));
      // ...and none as two events: a re-sent message is the same message, not a new one.
      const perEvent = new Map<string, number>();
      for (const m of confirmed) perEvent.set(m.json!.id, (perEvent.get(m.json!.id) ?? 0) + 1);
      const dupes = [...perEvent.values()].filter((n) => n > 1).length;
      expect(dupes).toBeLessThanOrEqual(5); // at-least-once: a handful of same-id re-sends at the cut, never more
      // Order per event: the confirmation always before its state change.
      for (const id of ids) {
        const first = confirmed.findIndex((m) => m.json!.id === id);
        const st = states.findIndex((m) => m.json!.event_id === id);
        expect(heard.messages.indexOf(confirmed[first])).toBeLessThan(heard.messages.indexOf(states[st]));
      }
      expect(u.pending()).toBe(0);
      await u.stop();
      db.close();
    },
    (OUTAGE_S + 90) * 1000,
  );

  it('sends what was pending after a power cut, from the same database', async () => {
    const dir = tempDir('gw-powercut-');
    const db1 = openDb(join(dir, 'gw.db'));
    await broker.stop();
    const u1 = uplink(db1, broker.url);
    u1.start();
    const ids = Array.from({ length: 20 }, (_, i) => emit(u1, db1, 1000 + i));
    // The process dies: no orderly stop, nothing flushed, the database file is all that is left.
    u1.destroy();
    db1.close();
    const db2 = openDb(join(dir, 'gw.db'));
    expect(new OutboxRepo(db2).size().messages).toBe(40);
    await broker.start();
    const u2 = uplink(db2, broker.url);
    u2.start();
    expect(await u2.settle(20_000)).toBe(true);
    await heard.waitFor(
      () => ids.every((id) => heard.find((m) => m.json?.event_id === id).length > 0),
      20_000,
      'state messages after power cut',
    );
    for (const id of ids) expect(heard.find((m) => m.topic === 'o/v1/gateways/gw/events' && m.json!.id === id).length).toBe(1);
    await u2.stop();
    db2.close();
  }, 60_000);
});
