/**
 * The embedded broker bound to the LAN: every client logs in; an anonymous client is
 * refused; an officer may publish only its own topics; an orderly stop publishes the
 * gateway's offline status before the broker goes (a last will cannot outlive it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { freePort } from '../peers/ports.ts';
import type { Gateway } from '../../gateway/controller.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the embedded broker bound to the LAN', () => {
  let gw: Gateway;
  let port: number;
  let watch: Collector;
  let stopped = false;
  const url = () => `mqtt://127.0.0.1:${port}`;
  const login = (username?: string, password?: string) =>
    mqtt.connectAsync(url(), { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, username, password });

  beforeAll(async () => {
    port = await freePort();
    gw = await startGateway(
      settingsAt(
        tempDir('gw-broker-'),
        `gateway: { id: gw-b }
mqtt: { prefix: b, username: gw-b, password: gw-secret-pw, embedded: { host: 0.0.0.0, port: ${port} } }
http: { enabled: false }
stats: { interval_s: 0 }
cameras: []
officers:
  - { id: off-1, name: 一, password: off1-secret }
  - { id: off-2, name: 二, password: off2-secret }
`,
      ),
    );
    watch = await Collector.connect(url(), 'b/#', { protocolVersion: 4, username: 'gw-b', password: 'gw-secret-pw' });
  }, 30_000);

  afterAll(async () => {
    await watch?.close();
    if (!stopped) await gw?.stop();
  });

  it('refuses an anonymous client and a wrong password', async () => {
    await expect(login()).rejects.toThrow(/Bad username or password|Not authorized/i);
    await expect(login('off-1', 'wrong-password')).rejects.toThrow(/Bad username or password|Not authorized/i);
  });

  it("lets an officer publish its own topics, not another officer's", async () => {
    const off1 = await login('off-1', 'off1-secret');
    try {
      await off1.publishAsync('b/v1/officers/off-1/state', '{"own":true}', { qos: 0 });
      await watch.waitFor((m) => m.topic === 'b/v1/officers/off-1/state', 5000, 'own state');
      // QoS 0: aedes drops it silently; QoS 1 ends the connection. Neither reaches anyone.
      await off1.publishAsync('b/v1/officers/off-2/reply', '{"forged":true}', { qos: 0 }).catch(() => undefined);
      await off1.publishAsync('b/v1/gateways/gw-b/commands/shout', '{"forged":true}', { qos: 0 }).catch(() => undefined);
      await sleep(500);
      expect(watch.find((m) => m.text.includes('forged'))).toEqual([]);
    } finally {
      await off1.endAsync(true);
    }
  });

  it('an officer may not subscribe to the whole tree', async () => {
    const off1 = await login('off-1', 'off1-secret');
    try {
      // mqtt.js turns the SUBACK's 0x80 into an error; the connection stays up.
      await expect(off1.subscribeAsync('b/#', { qos: 1 })).rejects.toThrow(/Subscribe error/);
      expect(off1.connected).toBe(true);
      expect((await off1.subscribeAsync('b/v1/officers/off-1/dispatch', { qos: 1 }))[0].qos).toBe(1);
    } finally {
      await off1.endAsync(true);
    }
  });

  it('an orderly stop publishes offline before the broker closes', async () => {
    stopped = true;
    await gw.stop();
    const offline = await watch.waitFor((m) => m.topic === 'b/v1/gateways/gw-b/status' && m.json?.state === 'offline', 5000, 'offline');
    expect(offline.json).toMatchObject({ state: 'offline', reason: 'stopped' });
  });
});
