/**
 * A camera given as onvif:// only: the gateway asks the (fake) ONVIF device for its
 * profiles, picks the sub-stream for analytics, plays it from the real GStreamer server,
 * and takes full-resolution evidence stills from the snapshot URI (Digest) or the main
 * stream. `gateway discover` and `gateway probe` print settings that work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { havePeers } from '../peers/require.ts';
import { RTSP_PEERS, startRtspServer, type RtspServer } from '../peers/rtsp.ts';
import { makeClip } from '../peers/media.ts';
import { FakeOnvifDevice } from '../peers/onvif/device.ts';
import { cameraSettings, watch, type Watched } from './helpers.ts';
import { discoverCommand, probeCommand } from '../../gateway/cli/cameras.ts';
import { parseSettings } from '../../gateway/settings/load.ts';
import { writeEvidence } from '../../gateway/events/evidence.ts';
import { tempDir } from '../helpers/gateway.ts';

const ok = havePeers(...RTSP_PEERS);
const USER = 'admin';
const PASS = 'Passw0rd!';

describe.runIf(ok)('an ONVIF camera, end to end', () => {
  let server: RtspServer;
  let device: FakeOnvifDevice;
  const running: Watched[] = [];

  beforeAll(async () => {
    const [sub, main] = await Promise.all([
      makeClip({ codec: 'h264', width: 640, height: 360, gopSeconds: 1, seconds: 10 }),
      makeClip({ codec: 'h264', width: 1280, height: 720, gopSeconds: 1, seconds: 10 }),
    ]);
    server = await startRtspServer({ mounts: { '/main': main, '/sub': sub, '/tiny': sub }, user: USER, password: PASS });
    const at = (m: string) => server.url(m);
    device = await new FakeOnvifDevice({
      user: USER,
      password: PASS,
      discovery: { interfaces: ['127.0.0.1'] },
      profiles: [
        { token: 'Profile_1', name: 'mainStream', encoding: 'H264', width: 1280, height: 720, fps: 25, streamUri: at('/main') },
        { token: 'Profile_2', name: 'subStream', encoding: 'H264', width: 640, height: 360, fps: 25, streamUri: at('/sub') },
        { token: 'Profile_3', name: 'thirdStream', encoding: 'H264', width: 176, height: 144, fps: 15, streamUri: at('/tiny') },
      ],
    }).start();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.map((w) => w.capture.stop()));
    await device?.stop();
    await server?.stop();
  });

  it('plays the sub-stream found over ONVIF and takes a full-resolution snapshot for evidence', async () => {
    const w = watch(cameraSettings({ id: 'onvif-cam', url: `onvif://127.0.0.1:${device.port}`, username: USER, password: PASS }));
    running.push(w);
    w.capture.start();
    await w.frames_(2, 30_000);
    expect(w.capture.snapshot().state).toBe('online');
    const still = await w.capture.still();
    expect(still).not.toBeNull();
    const meta = await sharp(still!).metadata();
    expect(meta.format).toBe('jpeg');
    // The fake's snapshot (its fixture is 320x180), fetched through HTTP Digest, not a
    // frame of the 1280x720 main stream.
    expect([meta.width, meta.height]).toEqual([320, 180]);
  });

  it('without a snapshot URI, takes the still from the main stream, at full resolution', async () => {
    const w = watch(
      cameraSettings({ id: 'main-still', url: server.url('/sub'), main_url: server.url('/main'), username: USER, password: PASS }),
    );
    running.push(w);
    w.capture.start();
    await w.frames_(1, 30_000);
    const still = await w.capture.still();
    const meta = await sharp(still!).metadata();
    expect([meta.width, meta.height]).toEqual([1280, 720]);
    // Evidence is drawn on the still, not on the 416-pixel analysed frame.
    const ev = await writeEvidence(tempDir('gw-ev-'), {
      eventId: '01TESTEVIDENCE0000000000000',
      rgb: Buffer.alloc(416 * 234 * 3),
      width: 416,
      height: 234,
      polygon: [
        [0.1, 0.5],
        [0.9, 0.5],
        [0.9, 0.99],
      ],
      boxes: [{ box: [0.4, 0.5, 0.6, 0.8], label: 'car #1' }],
      title: 'illegal_parking',
      at: Date.now(),
      still,
    });
    const out = await sharp(ev.path).metadata();
    expect([out.width, out.height]).toEqual([1280, 720]);
  });

  it('a wrong ONVIF password keeps the camera offline with "auth" as the reason', async () => {
    const w = watch(cameraSettings({ id: 'onvif-badpw', url: `onvif://127.0.0.1:${device.port}`, username: USER, password: 'nope' }), {
      backoff: { baseMs: 200, maxMs: 500 },
    });
    running.push(w);
    w.capture.start();
    const h = await w.until((x) => x.code === 'auth', 20_000, 'auth');
    expect(h.reason).toMatch(/^ONVIF auth failed/);
    expect(h.reason).not.toContain('nope');
  });

  it('gateway discover finds the camera over multicast and prints settings that check', async () => {
    const lines: string[] = [];
    const code = await discoverCommand({ timeoutS: 2, user: USER, password: PASS }, (l) => lines.push(l));
    const text = lines.join('\n');
    expect(code).toBe(0);
    expect(text).toContain(`onvif://127.0.0.1:${device.port}`);
    expect(text).toMatch(/HIKVISION/);
    expect(text).toMatch(/640x360 .*← analytics/);
    expect(text).toMatch(/1280x720 .*← main/);
    // The snippet is valid settings once its password variable is set.
    const yaml = text.slice(text.indexOf('\ncameras:\n') + 1);
    const vars = Object.fromEntries([...yaml.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => [m[1], PASS]));
    const s = parseSettings(yaml, '/tmp/snippet.yaml', vars).settings;
    const mine = s.cameras.find((c) => c.url === `onvif://127.0.0.1:${device.port}`);
    expect(mine).toBeDefined();
    // ...and a camera made from it plays.
    const w = watch({ ...mine!, username: USER, password: PASS });
    running.push(w);
    w.capture.start();
    await w.frames_(1, 30_000);
  });

  it('gateway probe prints the profiles and stream URIs', async () => {
    const lines: string[] = [];
    const code = await probeCommand(`onvif://127.0.0.1:${device.port}`, { user: USER, password: PASS }, (l) => lines.push(l));
    expect(code).toBe(0);
    const text = lines.join('\n');
    expect(text).toContain('Profile_2');
    expect(text).toContain(server.url('/sub'));
    expect(text).toMatch(/snapshot: http:\/\/127\.0\.0\.1:\d+\/onvif-http\/snapshot/);
    const bad: string[] = [];
    expect(await probeCommand(`onvif://127.0.0.1:${device.port}`, { user: USER, password: 'x' }, (l) => bad.push(l))).toBe(1);
    expect(bad.join('\n')).toMatch(/^auth: /);
  });
});
