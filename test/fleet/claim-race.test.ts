/**
 * The claim rule alone, on a real mosquitto: boxes claim the same officer in the same
 * instant, again and again; exactly one wins each time, the losers clear their claims, and
 * an officer held by one box is unavailable to the others until it is released.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { tempDir } from '../helpers/gateway.ts';
import { Collector } from '../helpers/collector.ts';
import { openDb } from '../../gateway/store/db.ts';
import { OutboxRepo } from '../../gateway/store/outbox.ts';
import { Topics } from '../../gateway/api/topics.ts';
import { Uplink } from '../../gateway/uplink/uplink.ts';
import { Bus } from '../../gateway/bus.ts';
import { systemClock } from '../../gateway/clock.ts';
import { silentLogger } from '../../gateway/log.ts';
import { OfficerClaims } from '../../gateway/dispatch/claims.ts';

const ok = havePeers('mosquitto');

describe.runIf(ok)('officer claims: the rule', () => {
  let broker: Mosquitto;
  let heard: Collector;
  const boxes: { id: string; uplink: Uplink; claims: OfficerClaims; open: Set<string>; bus: Bus }[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url, 't/v1/officers/+/claims/+');
    for (const id of ['gw-a', 'gw-b', 'gw-c']) {
      const db = openDb(join(tempDir('gw-claim-'), 'gateway.db'));
      const topics = new Topics('t', id);
      const log = silentLogger();
      const uplink = new Uplink({
        url: broker.url,
        protocolVersion: 5,
        clientId: `gw-${id}`,
        topics,
        outbox: new OutboxRepo(db),
        log,
        clock: systemClock,
        version: 'test',
      });
      const open = new Set<string>();
      const bus = new Bus();
      const claims = new OfficerClaims({
        uplink,
        topics,
        gatewayId: id,
        log,
        clock: systemClock,
        bus,
        settings: { settleMs: 300, ttlS: 10 },
        openOfficers: () => open,
      });
      claims.start();
      uplink.start();
      boxes.push({ id, uplink, claims, open, bus });
    }
  });

  afterAll(async () => {
    for (const b of boxes) {
      b.claims.stop();
      await b.uplink.stop();
    }
    await heard?.close();
    await broker?.stop();
  });

  it('exactly one of three simultaneous claims wins, twenty times over', async () => {
    for (let i = 0; i < 20; i++) {
      const officer = `off-${i}`;
      const results = await Promise.all(boxes.map((b) => b.claims.claim(officer, '01JDQ7Z3K8M2V5X9A4B6C8D0EF')));
      expect(
        results.filter((r) => r === 'won'),
        `officer ${officer}: ${results.join(', ')}`,
      ).toHaveLength(1);
      expect(results.filter((r) => r === 'lost')).toHaveLength(2);
      const winner = boxes[results.indexOf('won')]!;
      winner.open.add(officer);
      // The others see him held and will not pick him (once the winner's claim has reached them).
      const others = boxes.filter((b) => b !== winner);
      await until(() => others.every((b) => b.claims.unavailable().has(officer)), `${officer} unavailable to the others`);
      expect(winner.claims.holds(officer)).toBe(true);
    }
    // The losers cleared their claims: on the broker only the winners' remain.
    const live = () => {
      const retained = new Map<string, string>();
      for (const m of heard.messages) retained.set(m.topic, m.text);
      return [...retained.values()].filter((text) => text !== '').length;
    };
    await until(() => live() === 20, 'only the 20 winning claims left').catch(() => undefined);
    expect(live()).toBe(20);
  });

  it('a released officer is free again for everyone', async () => {
    const holder = boxes.find((b) => b.claims.holds('off-0'))!;
    holder.open.delete('off-0');
    holder.bus.emit('event.transition', { event: {} as never, from: 'dispatched', to: 'closed', at: Date.now() });
    await until(() => boxes.every((b) => !b.claims.unavailable().has('off-0')), 'off-0 free everywhere');
    expect(holder.claims.holds('off-0')).toBe(false);
    const other = boxes.find((b) => b !== holder)!;
    expect(await other.claims.claim('off-0', '01JDQ7Z3K8M2V5X9A4B6C8D0EF')).toBe('won');
  });
});

async function until(ok: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
