/**
 * A warning that was never heard cannot settle anything: through a running gateway, a
 * dead speaker and quiet hours both escalate the event at once, with the reason, and the
 * nearest officer is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { ensureScenario } from '../../scripts/scenario.ts';
import { OfficerSim } from '../../scripts/sim/officers.ts';
import type { Gateway } from '../../gateway/controller.ts';
import { ROOT } from '../../gateway/paths.ts';

const ok = havePeers('ffmpeg', 'espeak-ng', 'mosquitto');
const CAM = { lat: 28.7712, lon: 118.5553 };

/** A UDP port with nothing behind it: the kernel answers ICMP port unreachable. */
async function closedUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe.runIf(ok)('a warning that cannot be heard escalates the event', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let officers: OfficerSim;
  const gws: Gateway[] = [];
  let video = '';

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url);
    video = await ensureScenario('spine-stay', { out: join(ROOT, 'data', 'scenarios') });
    const dead = await closedUdpPort();
    const cam = (id: string, extra = '') => `
  - id: ${id}
    url: ${video}
    location: { lat: ${CAM.lat}, lon: ${CAM.lon} }
    speakers: [spk-${id}]${extra}
    zones:
      - id: plaza
        polygon: [[0.45, 0.78], [0.98, 0.78], [0.98, 0.999], [0.45, 0.999]]
        rules: [{ type: illegal_parking, dwell_s: 3, grace_s: 30, message: 请驶离 }]`;
    const dir = tempDir('gw-warnfail-');
    gws.push(
      await startGateway(
        settingsAt(
          dir,
          `
gateway: { id: gw-w, data_dir: ${dir}/data }
mqtt: { url: '${broker.url}', prefix: w }
warnings: { repeat: { count: 0 } }
cameras:${cam('dead')}${cam('quiet', '\n    quiet_hours: ["00:00-23:59"]')}
speakers:
  - { id: spk-dead, url: 'rtp://127.0.0.1:${dead}' }
  - { id: spk-quiet, url: 'rtp://127.0.0.1:${dead}' }
# Two officers: both events escalate, and one officer takes one job at a time.
officers: [{ id: off-1, name: 一 }, { id: off-2, name: 二 }]
`,
        ),
      ),
    );
    // The phone reports after the gateway subscribed (reports are not retained).
    officers = new OfficerSim({
      broker: broker.url,
      prefix: 'w',
      walk: false,
      officers: [
        { id: 'off-1', lat: CAM.lat + 0.001, lon: CAM.lon },
        { id: 'off-2', lat: CAM.lat - 0.001, lon: CAM.lon },
      ],
    });
    await officers.start();
  }, 120_000);

  afterAll(async () => {
    for (const g of gws) await g.stop();
    await officers?.stop();
    await heard?.close();
    await broker?.stop();
  });

  const path = (cam: string) => heard.find((m) => /\/events\/[^/]+\/state$/.test(m.topic) && m.json?.camera === cam).map((m) => m.json!);

  it('a speaker that refuses the audio: failed attempt recorded, event escalated and dispatched', async () => {
    await heard.waitFor((m) => m.json?.camera === 'dead' && m.json?.to === 'dispatched', 60_000, 'dispatch after failed warning');
    const steps = path('dead');
    expect(steps.map((s) => s.to)).toEqual(['confirmed', 'escalated', 'dispatched']);
    expect(steps[1].reason).toMatch(/warning failed/);
    const w = heard.find((m) => m.topic === 'w/v1/gateways/gw-w/warnings' && m.json?.speaker === 'spk-dead');
    expect(w[0].json).toMatchObject({ outcome: 'failed', code: 'refused' });
  });

  it('quiet hours: no audio, the event escalates with the reason', async () => {
    await heard.waitFor((m) => m.json?.camera === 'quiet' && m.json?.to === 'escalated', 60_000, 'escalation in quiet hours');
    const steps = path('quiet');
    expect(steps[0].to).toBe('confirmed');
    expect(steps[1]).toMatchObject({ to: 'escalated' });
    expect(steps[1].reason).toMatch(/quiet hours/);
    const w = heard.find((m) => m.topic === 'w/v1/gateways/gw-w/warnings' && m.json?.speaker === 'spk-quiet');
    expect(w.every((m) => m.json!.outcome !== 'played')).toBe(true);
  });
});
