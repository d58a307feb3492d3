/**
 * A broker that holds the TCP connection but stops answering (hung, or a middlebox eating
 * packets): /health stops saying "ok" within the keepalive's 15 s, not ~45 s. A proxy in
 * front of a real mosquitto plays the hung broker by ceasing to forward.
 */
import { createServer, connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import type { Gateway } from '../../gateway/controller.ts';

const ok = havePeers('mosquitto');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.runIf(ok)('a broker that stops answering', () => {
  let broker: Mosquitto;
  let gw: Gateway;
  let frozen = false;
  const sockets: Socket[] = [];
  const proxy = createServer((inbound) => {
    const out = connect(broker.port, '127.0.0.1');
    sockets.push(inbound, out);
    inbound.on('data', (d) => frozen || out.write(d));
    out.on('data', (d) => frozen || inbound.write(d));
    inbound.on('error', () => out.destroy());
    out.on('error', () => inbound.destroy());
  });
  const health = async () => (await (await fetch(`${gw.http!.base}/health`)).json()) as { status: string; mqtt: { connected: boolean } };

  beforeAll(async () => {
    broker = await startMosquitto();
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const port = (proxy.address() as { port: number }).port;
    gw = await startGateway(
      settingsAt(
        tempDir('gw-hung-'),
        `gateway: { id: gw-hung }\nmqtt: { url: 'mqtt://127.0.0.1:${port}', prefix: h }\nhttp: { host: 127.0.0.1, port: 0, token: a-long-enough-api-token-0123456789 }\nstats: { interval_s: 0 }\ncameras: []\n`,
      ),
    );
  }, 30_000);

  afterAll(async () => {
    await gw?.stop();
    for (const s of sockets) s.destroy();
    proxy.close();
    await broker?.stop();
  });

  it('/health turns degraded within 20 s of the broker falling silent', async () => {
    for (let i = 0; i < 100 && (await health()).status !== 'ok'; i++) await sleep(100);
    expect((await health()).status).toBe('ok');
    frozen = true;
    const t0 = Date.now();
    while ((await health()).status === 'ok' && Date.now() - t0 < 25_000) await sleep(250);
    const took = Date.now() - t0;
    expect((await health()).mqtt.connected).toBe(false);
    expect(took).toBeLessThan(20_000);
  }, 40_000);
});
