/**
 * MQTT over TLS with username and password, against a real mosquitto with a CA and
 * certificates made here with openssl. The gateway connects with the right credentials;
 * wrong ones, or a broker certificate it cannot verify, give a clear status and log line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { freePort } from '../peers/ports.ts';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, tempDir } from '../helpers/gateway.ts';
import { Gateway } from '../../gateway/controller.ts';

const ok = havePeers('mosquitto', 'mosquitto_passwd', 'openssl');

describe.runIf(ok)('MQTT over TLS with username and password', () => {
  let broker: Mosquitto;
  let tlsPort = 0;
  const dir = tempDir('gw-tls-');
  const gateways: Gateway[] = [];

  beforeAll(async () => {
    const sh = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    sh([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=Test Township CA',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
    ]);
    sh(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr']);
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    sh([
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      'server.pem',
      '-extfile',
      'san.ext',
    ]);
    execFileSync('mosquitto_passwd', ['-b', '-c', join(dir, 'passwd'), 'hecun-01', 's3cret-pass']);
    // mosquitto drops to its own user when started as root: it must read these.
    for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
    chmodSync(dir, 0o755);
    tlsPort = await freePort();
    broker = await startMosquitto({
      extra: [
        `listener ${tlsPort} 127.0.0.1`,
        `cafile ${dir}/ca.pem`,
        `certfile ${dir}/server.pem`,
        `keyfile ${dir}/server.key`,
        'tls_version tlsv1.2',
        `password_file ${dir}/passwd`,
        'allow_anonymous false',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    for (const g of gateways) await g.stop().catch(() => undefined);
    await broker?.stop();
  });

  const gateway = async (o: { user: string; pass: string; ca: boolean; v: 4 | 5; id: string }) => {
    const d = tempDir('gw-tls-run-');
    const lines: Record<string, any>[] = [];
    const log = pino({ level: 'debug' }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
    const cfg = settingsAt(
      d,
      `
gateway: { id: ${o.id}, data_dir: ${d}/data }
mqtt:
  url: 'mqtts://localhost:${tlsPort}'
  username: ${o.user}
  password: \${MQTT_TEST_PASSWORD}
  protocol_version: ${o.v}
  prefix: s
  ${o.ca ? `tls: { ca: ${dir}/ca.pem }` : ''}
http: { host: 127.0.0.1, port: 0 }
stats: { interval_s: 0 }
`.replace('${MQTT_TEST_PASSWORD}', o.pass),
    );
    const gw = new Gateway({ config: cfg, log });
    gateways.push(gw);
    await gw.start();
    return { gw, lines };
  };
  const until = async (pred: () => boolean, ms: number, what: string) => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('connects with the right credentials and a private CA, and its status reaches the platform', async () => {
    const watcher = await Collector.connect(`mqtts://localhost:${tlsPort}`, 's/#', {
      username: 'hecun-01',
      password: 's3cret-pass',
      ca: readFileSync(join(dir, 'ca.pem')),
    });
    const { gw } = await gateway({ user: 'hecun-01', pass: 's3cret-pass', ca: true, v: 5, id: 'gw-tls' });
    const s = await watcher.waitFor(
      (m) => m.topic === 's/v1/gateways/gw-tls/status' && m.json?.state === 'online',
      10_000,
      'online over TLS',
    );
    expect(s.json!.contract).toBe('v1');
    expect(gw.ctx.uplink.status()).toMatchObject({ connected: true, error: null });
    await watcher.close();
  });

  it.each([5, 4] as const)('says "not authorized" for a wrong password (MQTT %i), in its status, its log and /health', async (v) => {
    const { gw, lines } = await gateway({ user: 'hecun-01', pass: 'wrong-pass', ca: true, v, id: `gw-bad${v}` });
    await until(() => gw.ctx.uplink.status().error !== null, 10_000, 'an error');
    const st = gw.ctx.uplink.status();
    expect(st.connected).toBe(false);
    expect(st.error).toMatch(/not authorized \(check mqtt.username and mqtt.password\)/);
    const line = lines.find((l) => l.msg === 'MQTT not authorized');
    expect(line).toMatchObject({ level: 50 });
    const health = (await (await fetch(`${gw.http!.base}/health`)).json()) as { mqtt: { error: string } };
    expect(health).toMatchObject({ status: 'degraded', mqtt: { connected: false } });
    expect(health.mqtt.error).toMatch(/not authorized/);
  });

  it("says the broker's certificate is not trusted when the CA is not configured", async () => {
    const { gw } = await gateway({ user: 'hecun-01', pass: 's3cret-pass', ca: false, v: 5, id: 'gw-noca' });
    await until(() => gw.ctx.uplink.status().error !== null, 10_000, 'an error');
    expect(gw.ctx.uplink.status().error).toMatch(/^TLS: the broker's certificate is not trusted/);
  });
});
