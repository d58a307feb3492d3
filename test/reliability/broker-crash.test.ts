/**
 * The embedded broker runs in its own process: a gateway killed with SIGKILL leaves it
 * running just long enough to deliver the gateway's last will (`offline`) to the clients
 * still connected, and then it exits (no orphan broker holding the port).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { tempDir } from '../helpers/gateway.ts';
import { freePort } from '../peers/ports.ts';
import { ROOT } from '../../gateway/paths.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Gone, or a zombie nobody has reaped yet (its parent died; the container's init may be slow). */
function exited(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

describe('the embedded broker when the gateway is killed', () => {
  let gw: ChildProcess | null = null;
  let client: MqttClient | null = null;
  let brokerPid = 0;

  afterAll(async () => {
    await client?.endAsync(true);
    if (gw?.exitCode === null && gw.signalCode === null) gw.kill('SIGKILL');
    if (brokerPid && !exited(brokerPid)) process.kill(brokerPid, 'SIGKILL');
  });

  it('delivers the last will, then exits', async () => {
    const dir = tempDir('gw-broker-crash-');
    const port = await freePort();
    const file = join(dir, 'settings.yaml');
    writeFileSync(
      file,
      `gateway: { id: gw-k9, data_dir: ${dir}/data }
mqtt: { prefix: k9, embedded: { port: ${port} } }
http: { enabled: false }
stats: { interval_s: 0 }
cameras:
  - id: cam
    enabled: false
    url: rtsp://127.0.0.1:9/none
    location: { lat: 28.77, lon: 118.55 }
    zones: [{ id: z, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], rules: [{ type: illegal_parking }] }]
`,
    );
    gw = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'gateway/cli.ts'), 'run', '--config', file], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    gw.stdout!.on('data', (d) => (out += d));
    const end = Date.now() + 30_000;
    while (!/embedded MQTT broker started/.test(out)) {
      if (Date.now() > end) throw new Error(`the gateway did not start its broker:\n${out}`);
      await sleep(100);
    }
    brokerPid = Number(
      /"pid":(\d+)[^\n]*embedded MQTT broker started|embedded MQTT broker started[^\n]*"pid":(\d+)/.exec(out)?.slice(1).find(Boolean),
    );

    const status: string[] = [];
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0 });
    client.on('message', (_t, p) => status.push(JSON.parse(p.toString()).state));
    await client.subscribeAsync('k9/v1/gateways/gw-k9/status', { qos: 1 });
    while (status.at(-1) !== 'online') {
      if (Date.now() > end) throw new Error(`no online status (heard ${status.join(', ')})`);
      await sleep(100);
    }

    gw.kill('SIGKILL');
    const killedAt = Date.now();
    while (status.at(-1) !== 'offline') {
      if (Date.now() - killedAt > 5000) throw new Error(`no offline status after kill -9 (heard ${status.join(', ')})`);
      await sleep(50);
    }
    // The broker is its own process, and it goes too.
    expect(brokerPid).toBeGreaterThan(0);
    expect(brokerPid).not.toBe(gw.pid);
    while (!exited(brokerPid)) {
      if (Date.now() - killedAt > 8000) throw new Error('the broker process outlived the gateway');
      await sleep(100);
    }
  }, 60_000);
});
