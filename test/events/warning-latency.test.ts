/**
 * The warning does not wait for the evidence picture. Through a running gateway whose
 * camera has a snapshot URI that answers slowly (as a busy camera does): the snapshot
 * server holds its reply until the warning's first RTP packet reaches the speaker, or
 * 5 s. A gateway that wrote the evidence before starting the warning would make it wait
 * the full 5 s, and the reply would go out on the timeout. What is recorded is unchanged:
 * the evidence is the full-resolution still, and the event message carries its sha256.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { ensureScenario } from '../../scripts/scenario.ts';
import type { Gateway } from '../../gateway/controller.ts';
import { ROOT } from '../../gateway/paths.ts';

const ok = havePeers('ffmpeg', 'espeak-ng', 'mosquitto');
const HOLD_MS = 5000; // under the gateway's 6 s snapshot timeout, so the still is used either way

describe.runIf(ok)('the first warning does not wait for the evidence still', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let gw: Gateway | undefined;
  let snapshots: Server;
  let speaker: Socket;
  let firstPacketAt = 0;
  let heardPacket: () => void = () => {};
  const packet = new Promise<void>((r) => (heardPacket = r));
  const replies: { requestedAt: number; repliedAt: number; releasedBy: 'rtp' | 'timeout' }[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url);
    const video = await ensureScenario('spine-stay', { out: join(ROOT, 'data', 'scenarios') });
    const still = await sharp({ create: { width: 1280, height: 720, channels: 3, background: '#406080' } })
      .jpeg()
      .toBuffer();
    snapshots = createServer((_req, res) => {
      const requestedAt = Date.now();
      let releasedBy: 'rtp' | 'timeout' = 'timeout';
      const hold = new Promise<void>((r) => setTimeout(r, HOLD_MS));
      void Promise.race([packet.then(() => (releasedBy = 'rtp')), hold]).then(() => {
        replies.push({ requestedAt, repliedAt: Date.now(), releasedBy });
        res.writeHead(200, { 'content-type': 'image/jpeg' }).end(still);
      });
    });
    await new Promise<void>((r) => snapshots.listen(0, '127.0.0.1', r));
    speaker = createSocket('udp4');
    speaker.on('message', () => {
      if (firstPacketAt) return;
      firstPacketAt = Date.now();
      heardPacket();
    });
    await new Promise<void>((r) => speaker.bind(0, '127.0.0.1', r));
    const dir = tempDir('gw-warnlat-');
    const snap = `http://127.0.0.1:${(snapshots.address() as AddressInfo).port}/snap.jpg`;
    gw = await startGateway(
      settingsAt(
        dir,
        `
gateway: { id: gw-l, data_dir: ${dir}/data }
mqtt: { url: '${broker.url}', prefix: l }
warnings: { repeat: { count: 0 } }
cameras:
  - id: slow
    url: ${video}
    snapshot_url: '${snap}'
    location: { lat: 28.77, lon: 118.55 }
    speakers: [spk-slow]
    zones:
      - id: plaza
        polygon: [[0.45, 0.78], [0.98, 0.78], [0.98, 0.999], [0.45, 0.999]]
        rules: [{ type: illegal_parking, dwell_s: 3, grace_s: 30, message: 请驶离 }]
speakers:
  - { id: spk-slow, url: 'rtp://127.0.0.1:${speaker.address().port}', codec: pcma }
`,
      ),
    );
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    snapshots?.close();
    speaker?.close();
    await heard?.close();
    await broker?.stop();
  });

  it('has the zone warnings ready at start, the firm repeat too though it never plays here', async () => {
    const audio = join(gw!.ctx.dataDir, 'audio');
    const deadline = Date.now() + 30_000;
    let files: string[] = [];
    while (Date.now() < deadline && (files = readdirSync(audio).filter((f) => f.endsWith('.pcma'))).length < 2)
      await new Promise((r) => setTimeout(r, 200));
    // warnings.repeat.count is 0: only the start-up warm-up makes the second (firm) one.
    expect(files.length).toBe(2);
  }, 40_000);

  it('plays while the snapshot is still being fetched, and records the still as evidence', async () => {
    const ev = await heard.waitFor((m) => m.topic === 'l/v1/gateways/gw-l/events' && m.json?.camera?.id === 'slow', 60_000, 'event');
    await packet;
    // The warning reached the speaker while the camera was still sending its picture.
    expect(replies.length).toBeGreaterThanOrEqual(1);
    expect(replies[0].releasedBy).toBe('rtp');
    expect(firstPacketAt).toBeLessThanOrEqual(replies[0].repliedAt);
    // Recorded as before: the row names the picture, drawn on the full-resolution still.
    const stored = gw!.ctx.db.prepare('SELECT evidence_path AS p, evidence_sha256 AS s FROM events WHERE id = ?').get(ev.json!.id) as {
      p: string;
      s: string;
    };
    const jpeg = readFileSync(stored.p);
    expect(createHash('sha256').update(jpeg).digest('hex')).toBe(ev.json!.evidence.sha256);
    expect(stored.s).toBe(ev.json!.evidence.sha256);
    expect(await sharp(jpeg).metadata()).toMatchObject({ width: 1280, height: 720 });
    // The play is recorded once, as the event's own warning.
    const w = await heard.waitFor((m) => m.topic === 'l/v1/gateways/gw-l/warnings' && m.json?.speaker === 'spk-slow', 30_000, 'outcome');
    expect(w.json).toMatchObject({ outcome: 'played', event_id: ev.json!.id });
    const warned = await heard.waitFor((m) => m.json?.camera === 'slow' && m.json?.to === 'warned', 30_000, 'warned');
    expect(warned.json!.event_id).toBe(ev.json!.id);
    expect(heard.find((m) => m.topic === 'l/v1/gateways/gw-l/warnings').length).toBe(1);
  }, 90_000);
});
