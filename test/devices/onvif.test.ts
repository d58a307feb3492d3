import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import http from 'node:http';
import onvif from 'onvif';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isDeviceError, type DeviceError } from '../../devices/errors.ts';
import { chooseStreams, discover, probe, selectAnalytics, type OnvifProfile } from '../../devices/onvif/index.ts';
import { parseAuthParams } from '../peers/onvif/auth.ts';
import { FakeOnvifDevice, type FakeOnvifOptions } from '../peers/onvif/device.ts';
import { runCrossCheck } from '../peers/onvif/netns.ts';
import { havePeers } from '../peers/require.ts';

const USER = 'admin';
const PASS = 'Passw0rd!';
const started: FakeOnvifDevice[] = [];
async function fake(o: FakeOnvifOptions = {}): Promise<FakeOnvifDevice> {
  const d = await new FakeOnvifDevice({ user: USER, password: PASS, ...o }).start();
  started.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((d) => d.stop()));
});

async function failure(p: Promise<unknown>): Promise<DeviceError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isDeviceError(e)) throw new Error(`expected a DeviceError, got ${e === undefined ? 'success' : String(e)}`);
  return e;
}

/** GET with HTTP Digest, as the gateway's snapshot fetcher will do it. */
async function digestGet(url: string, user: string, password: string): Promise<Response> {
  const first = await fetch(url);
  if (first.status !== 401) return first;
  const c = parseAuthParams(first.headers.get('www-authenticate') ?? '');
  const u = new URL(url);
  const uri = u.pathname + u.search;
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  const cnonce = randomBytes(8).toString('hex');
  const ha1 = md5(`${user}:${c.realm}:${password}`);
  const response = md5(`${ha1}:${c.nonce}:00000001:${cnonce}:auth:${md5(`GET:${uri}`)}`);
  return fetch(url, {
    headers: {
      Authorization: `Digest username="${user}", realm="${c.realm}", nonce="${c.nonce}", uri="${uri}", qop=auth, nc=00000001, cnonce="${cnonce}", response="${response}"`,
    },
  });
}

describe('ONVIF client against the fake camera', () => {
  it('reads device information, profiles, stream and snapshot URIs', async () => {
    const cam = await fake();
    const d = await probe(cam.url, { user: USER, password: PASS });
    expect(d).toMatchObject({
      manufacturer: 'HIKVISION',
      model: 'DS-2CD2043G0-I',
      firmware: 'V5.5.80 build 190528',
      hardwareId: '88',
      media: 'media1',
    });
    expect(d.serial).toBe(cam.o.serial);
    expect(d.profiles.map((p) => [p.token, p.name, p.encoding, p.width, p.height, p.fps])).toEqual([
      ['Profile_1', 'mainStream', 'H264', 1920, 1080, 25],
      ['Profile_2', 'subStream', 'H264', 640, 360, 25],
      ['Profile_3', 'thirdStream', 'H264', 176, 144, 15],
    ]);
    cam.o.profiles.forEach((p, i) => expect(d.profiles[i]!.streamUri).toBe(cam.streamUri(p, i)));
    expect(d.profiles[0]!.snapshotUri).toBe(cam.snapshotUri(cam.o.profiles[0]!));
    expect(d.warnings).toEqual([]);
  });

  it('keeps strings that look like numbers as the device sent them', async () => {
    // The onvif package's own parsing turns "5.40" into 5.4 and token "1" into a number.
    const cam = await fake({
      firmware: '5.40',
      serial: '00123',
      profiles: [{ token: '1', name: '101', encoding: 'H264', width: 1280, height: 720, fps: 20 }],
    });
    const d = await probe(cam.url, { user: USER, password: PASS });
    expect([d.firmware, d.serial, d.profiles[0]!.token, d.profiles[0]!.name]).toEqual(['5.40', '00123', '1', '101']);
  });

  it('chooses the sub-stream for analytics, never the 176x144 one, and the main snapshot for evidence', async () => {
    const cam = await fake();
    const d = await probe(cam.url, { user: USER, password: PASS });
    const c = chooseStreams(d);
    expect(c.analytics.token).toBe('Profile_2');
    expect(c.main.token).toBe('Profile_1');
    expect(c.snapshotUri).toBe(cam.snapshotUri(cam.o.profiles[0]!));
    // The evidence snapshot is a JPEG behind HTTP Digest, as on a Hikvision.
    expect((await fetch(c.snapshotUri!)).status).toBe(401);
    const jpeg = await digestGet(c.snapshotUri!, USER, PASS);
    expect(jpeg.status).toBe(200);
    expect(jpeg.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await jpeg.arrayBuffer()).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
  });

  it('reads a Profile T device over Media2, where H.265 is reported as such', async () => {
    const profiles = [
      { token: 'Profile_1', name: 'mainStream', encoding: 'H265', width: 2560, height: 1440, fps: 20 },
      { token: 'Profile_2', name: 'subStream', encoding: 'H264', width: 640, height: 480, fps: 15 },
    ] as const;
    const cam = await fake({ media2: true, profiles: profiles.map((p) => ({ ...p })) });
    const d = await probe(cam.url, { user: USER, password: PASS });
    expect(d.media).toBe('media2');
    expect(d.profiles.map((p) => [p.token, p.encoding, p.width, p.height, p.fps, p.streamUri, p.snapshotUri])).toEqual(
      cam.o.profiles.map((p, i) => [p.token, p.encoding, p.width, p.height, p.fps, cam.streamUri(p, i), cam.snapshotUri(p)]),
    );
    expect(cam.log.some((l) => l.action === 'GetProfiles' && l.status === 200)).toBe(true);
    expect(chooseStreams(d).analytics.token).toBe('Profile_2');
  });

  it('selection rules: minimum width, codec preference, fallback to the largest tiny stream', () => {
    const p = (token: string, width: number, height: number, encoding = 'H264', streamUri = `rtsp://x/${token}`): OnvifProfile => ({
      token,
      name: token,
      encoding,
      width,
      height,
      fps: 25,
      streamUri,
    });
    expect(selectAnalytics([p('a', 1920, 1080), p('b', 320, 240), p('c', 319, 240)])?.token).toBe('b');
    expect(selectAnalytics([p('jpeg', 640, 480, 'JPEG'), p('h265', 640, 480, 'H265'), p('h264', 640, 480)])?.token).toBe('h264');
    expect(selectAnalytics([p('qcif', 176, 144), p('tiny', 160, 120)])?.token).toBe('qcif');
    expect(selectAnalytics([p('nouri', 640, 360, 'H264', ''), p('main', 1920, 1080)])?.token).toBe('main');
    expect(selectAnalytics([])).toBeUndefined();
  });

  it('works with a device that accepts only WS-UsernameToken', async () => {
    const cam = await fake({ auth: 'ws-security' });
    const d = await probe(cam.url, { user: USER, password: PASS });
    expect(d.auth).toBe('ws-security');
    const authed = cam.log.filter((l) => l.action !== 'GetSystemDateAndTime');
    expect(authed.every((l) => l.wsse === 'ok' && l.status === 200)).toBe(true);
  });

  it('falls back to HTTP Digest on a device whose SOAP stack has no WS-Security', async () => {
    const cam = await fake({ auth: 'digest' });
    const d = await probe(cam.url, { user: USER, password: PASS });
    expect(d.auth).toBe('digest');
    expect(d.profiles).toHaveLength(3);
    // First try: our Security header was refused (MustUnderstand); afterwards Digest only.
    expect(cam.log.some((l) => l.status === 500)).toBe(true);
    expect(
      cam.log.filter((l) => l.action === 'GetProfiles' && l.status === 200).every((l) => l.digest === 'ok' && l.wsse === 'absent'),
    ).toBe(true);
  });

  it.each([3600, -7200])('corrects a device clock that is %i s off for WS-Security', async (skew) => {
    const cam = await fake({ auth: 'ws-security', clockSkewSec: skew });
    const d = await probe(cam.url, { user: USER, password: PASS });
    expect(d.auth).toBe('ws-security');
    expect(Math.abs(d.clockOffsetMs - skew * 1000)).toBeLessThan(2000);
  });

  it('control: the fake really refuses WS-Security stamped with our uncorrected clock', async () => {
    const cam = await fake({ auth: 'ws-security', clockSkewSec: 3600 });
    const c = new onvif.Cam({ hostname: '127.0.0.1', port: cam.port, username: USER, password: PASS, autoconnect: false, timeout: 3000 });
    c.timeShift = Date.now() - process.uptime() * 1000; // our clock, not the device's
    const err = await new Promise<Error | null>((r) => c.getDeviceInformation((e) => r(e)));
    expect(err?.message).toMatch(/not Authorized/i);
    expect(cam.log.at(-1)?.wsse).toBe('stale');
  });

  it.each(['both', 'ws-security', 'digest'] as const)('wrong password on a %s device is DeviceError auth', async (auth) => {
    const cam = await fake({ auth });
    const e = await failure(probe(cam.url, { user: USER, password: 'wrong' }));
    expect(e.code).toBe('auth');
    expect(e.device).toBe(cam.url);
    // One attempt per method, not a retry storm that would lock the account.
    expect(cam.log.filter((l) => l.status !== 200).length).toBeLessThanOrEqual(4);
  });

  it('nothing listening is DeviceError refused', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const e = await failure(probe(`onvif://127.0.0.1:${port}`, { user: USER, password: PASS, timeoutMs: 2000 }));
    expect(e.code).toBe('refused');
  });

  it('a device that never answers is DeviceError timeout', async () => {
    const sockets: net.Socket[] = [];
    const srv = net.createServer((s) => sockets.push(s)); // accepts, reads, never replies
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const port = (srv.address() as net.AddressInfo).port;
      const e = await failure(probe(`http://127.0.0.1:${port}/onvif/device_service`, { timeoutMs: 500 }));
      expect(e.code).toBe('timeout');
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => srv.close(r));
    }
  });

  it('an unknown host is DeviceError unreachable; a web server that is not ONVIF is not_found', async () => {
    expect((await failure(probe('onvif://camera.invalid', { timeoutMs: 3000 }))).code).toBe('unreachable');
    const web = http.createServer((_q, s) => s.writeHead(404, { 'Content-Type': 'text/html' }).end('<html><body>Not Found</body></html>'));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    try {
      const port = (web.address() as net.AddressInfo).port;
      expect((await failure(probe(`127.0.0.1:${port}`, { timeoutMs: 2000 }))).code).toBe('not_found');
    } finally {
      await new Promise((r) => web.close(r));
    }
  });
});

describe('WS-Discovery over loopback multicast', () => {
  /** Explains a miss instead of a bare "expected 0 to be 2". */
  function why(r: Awaited<ReturnType<typeof discover>>, cams: FakeOnvifDevice[]): string {
    return [
      `probed on: ${r.interfaces.map((i) => `${i.name} ${i.address}${i.error ? ` (${i.error})` : ''}`).join(', ')}`,
      ...cams.map(
        (c) =>
          `fake ${c.o.endpoint}: joined ${c.responder?.joined.join(',') || 'nothing'}, failed ${JSON.stringify(c.responder?.failed)}, saw ${c.responder?.probes} probes`,
      ),
      'Probes go out of each interface with IP_MULTICAST_IF, which needs no route; if this kernel still',
      'refuses multicast on lo, `ip route add 239.0.0.0/8 dev lo src 127.0.0.1` (root) is the workaround.',
    ].join('\n');
  }

  it('finds two fake cameras on 127.0.0.1, with maker, model and device URL', async () => {
    const a = await fake({ discovery: { interfaces: ['127.0.0.1'] } });
    const b = await fake({ discovery: { interfaces: ['127.0.0.1'] }, manufacturer: 'Dahua', model: 'IPC-HFW2431S' });
    const r = await discover({ timeoutMs: 1500, interfaces: ['127.0.0.1'] });
    const mine = r.devices.filter((d) => d.endpoint === a.o.endpoint || d.endpoint === b.o.endpoint);
    expect(mine.length, why(r, [a, b])).toBe(2);
    const hik = mine.find((d) => d.endpoint === a.o.endpoint)!;
    expect(hik).toMatchObject({
      address: '127.0.0.1',
      url: a.url,
      maker: 'HIKVISION',
      model: 'DS-2CD2043G0-I',
      name: 'HIKVISION DS-2CD2043G0-I',
    });
    expect(hik.types).toContain('NetworkVideoTransmitter');
    expect(mine.find((d) => d.endpoint === b.o.endpoint)).toMatchObject({ url: b.url, maker: 'Dahua', model: 'IPC-HFW2431S' });
    // What discovery returns is enough to connect.
    expect((await probe(hik.url, { user: USER, password: PASS })).serial).toBe(a.o.serial);
  });

  it('repeats probes, so a camera that lost the first ones is still found', async () => {
    // Each round sends two probes (NetworkVideoTransmitter, Device); this camera ignores
    // the first two rounds.
    const cam = await fake({ discovery: { interfaces: ['127.0.0.1'], dropProbes: 4 } });
    const r = await discover({ timeoutMs: 2000, probes: 3, interfaces: ['127.0.0.1'] });
    expect(
      r.devices.some((d) => d.endpoint === cam.o.endpoint),
      why(r, [cam]),
    ).toBe(true);
    expect(cam.responder!.probes).toBeGreaterThan(4);
  });

  it('probes every interface and reports a camera once, with each interface it answered on', async () => {
    const cam = await fake({ discovery: true });
    const r = await discover({ timeoutMs: 1500 });
    const mine = r.devices.filter((d) => d.endpoint === cam.o.endpoint);
    expect(mine.length, why(r, [cam])).toBe(1);
    expect(r.interfaces.map((i) => i.address)).toContain('127.0.0.1');
    expect(mine[0]!.via).toContain('127.0.0.1');
  });
});

describe('cross-check with onvif-util (libonvif), an independent ONVIF client', () => {
  const ok = havePeers('onvif-util', 'unshare');
  let cc: Awaited<ReturnType<typeof runCrossCheck>>;
  beforeAll(async () => {
    // Clock 1 h off: both clients must correct it to authenticate with WS-Security.
    if (ok) cc = await runCrossCheck({ clockSkewSec: 3600 });
  });

  it.skipIf(!ok)('agrees on identity, profiles, resolutions, frame rates and RTSP URIs', () => {
    const { util, ours } = cc;
    expect(util.name, util.raw).toBe(`${ours.manufacturer} ${ours.model}`);
    expect(util.serial).toBe(ours.serial);
    expect(util.tokens).toEqual(ours.profiles.map((p) => p.token));
    for (const p of ours.profiles) {
      expect(util.profiles[p.token], util.raw).toEqual({ width: p.width, height: p.height, fps: p.fps, rtsp: p.streamUri });
    }
  });

  it.skipIf(!ok)('agrees on the device clock offset', () => {
    expect(cc.util.timeOffsetSec).toBe(3600);
    expect(Math.abs(cc.ours.clockOffsetMs - 3_600_000)).toBeLessThan(2000);
  });

  it.skipIf(!ok)('onvif-util (WS-Security only) is refused by a Digest-only device that we get into', async () => {
    const r = await runCrossCheck({ auth: 'digest' });
    expect(r.util.raw).toMatch(/NotAuthorized/);
    expect(r.ours.auth).toBe('digest');
  });
});
