/**
 * Camera health as the platform and a technician see it: retained on MQTT (a newcomer gets
 * it at once) and printed by `gateway status`, for a good camera and a dead one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { havePeers } from '../peers/require.ts';
import { RTSP_PEERS, startRtspServer, type RtspServer } from '../peers/rtsp.ts';
import { makeClip } from '../peers/media.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { statusCommand } from '../../gateway/cli/status.ts';
import type { Gateway } from '../../gateway/controller.ts';
import type { LoadedSettings } from '../../gateway/settings/load.ts';

const ok = havePeers(...RTSP_PEERS, 'mosquitto');

describe.runIf(ok)('camera health on MQTT and in gateway status', () => {
  let server: RtspServer;
  let broker: Mosquitto;
  let gw: Gateway;
  let config: LoadedSettings;

  beforeAll(async () => {
    server = await startRtspServer({ mounts: { '/sub': await makeClip({ codec: 'h264', gopSeconds: 1, seconds: 10 }) } });
    broker = await startMosquitto();
    const dir = tempDir('gw-health-');
    config = settingsAt(
      dir,
      `
gateway: { id: gw-h, data_dir: ${dir}/data }
mqtt: { url: '${broker.url}', prefix: h }
http: { port: 0 }
cameras:
  - { id: good, url: '${server.url('/sub')}', location: { lat: 28.77, lon: 118.55 } }
  - { id: dead, url: 'rtsp://127.0.0.1:9/live', location: { lat: 28.77, lon: 118.55 } }
`,
    );
    gw = await startGateway(config);
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await broker?.stop();
    await server?.stop();
  });

  it('publishes health retained, with the state and the reason', async () => {
    // A subscriber that arrives late still gets the current health (retained).
    await new Promise((r) => setTimeout(r, 8000));
    const late = await Collector.connect(broker.url, 'h/v1/gateways/gw-h/cameras/+/health');
    try {
      const good = await late.waitFor((m) => m.topic.endsWith('/good/health') && m.json?.state === 'online', 20_000, 'good online');
      expect(good.retain).toBe(true);
      expect(good.json!.resolution).toBe('416x234');
      const dead = await late.waitFor((m) => m.topic.endsWith('/dead/health') && m.json?.state === 'offline', 30_000, 'dead offline');
      expect(dead.json).toMatchObject({ code: 'refused' });
      expect(dead.json!.reason).toMatch(/connection refused/);
    } finally {
      await late.close();
    }
  });

  it('gateway status prints each camera, and fails when one is down', async () => {
    const lines: string[] = [];
    const code = await statusCommand(config, (l) => lines.push(l));
    const text = lines.join('\n');
    expect(text).toMatch(/gateway gw-h on mqtt:\/\/127\.0\.0\.1:\d+: online/);
    expect(text).toMatch(/good\s+online\s+\d+ frames\/min, last frame \d+ s ago/);
    expect(text).toMatch(/dead\s+offline .*connection refused/);
    expect(code).toBe(1);
  });
});
