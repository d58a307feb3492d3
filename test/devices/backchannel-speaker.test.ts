/**
 * The ONVIF backchannel driver against GStreamer's ONVIF RTSP server (Debian
 * gir1.2-gst-rtsp-server-1.0), which writes what arrives on the backchannel to a file.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { havePeers } from '../peers/require.ts';
import { PYTHON, startBackchannelCamera } from '../peers/backchannel.ts';
import { BackchannelSpeaker, resolveControl } from '../../devices/speakers/backchannel/driver.ts';
import { decode } from '../../scripts/sim/g711.ts';
import { dbfs, tone } from '../helpers/audio.ts';
import { freePort } from '../peers/ports.ts';

const ok = havePeers(PYTHON, 'gst-launch-1.0');
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function camera(o: Parameters<typeof startBackchannelCamera>[0] = {}) {
  const cam = await startBackchannelCamera(o);
  cleanup.push(cam.stop);
  return cam;
}

it('resolves track controls against the content base', () => {
  expect(resolveControl('rtsp://h/onvif/', 'stream=1')).toBe('rtsp://h/onvif/stream=1');
  expect(resolveControl('rtsp://h/onvif', 'trackID=2')).toBe('rtsp://h/onvif/trackID=2');
  expect(resolveControl('rtsp://h/onvif/', 'rtsp://other/x')).toBe('rtsp://other/x');
});

// Now and then, on a loaded machine, GStreamer's ONVIF server writes nothing at all for a
// session that went through (SETUP, PLAY, every packet sent, TEARDOWN 200); seen twice in
// CI, never reproduced alone or under a CPU hog. The likeliest cause, not proven: its
// receive path links the backchannel pipeline when the first packet arrives, and a race
// there stops the stream as not-linked. A test that meets it runs again, from a fresh
// camera process; one that fails three times is a real failure.
describe.runIf(ok)('ONVIF backchannel speaker against GStreamer', { retry: 2 }, () => {
  it('finds the µ-law backchannel, sends 2 s in real time over the RTSP connection; the camera got every byte', async () => {
    const cam = await camera({ codec: 'pcmu' });
    const speaker = new BackchannelSpeaker(cam.url);
    expect(await speaker.probe()).toBe('backchannel PCMU/8000');
    expect(speaker.codecs).toEqual(['pcmu']);
    const clip = tone('pcmu', 2);
    const r = await speaker.play(clip);
    expect(r.sentMs).toBeGreaterThan(1850);
    expect(r.detail).toMatch(/TEARDOWN 200/);
    await arrived(cam, clip.data.length);
    const got = cam.received();
    expect(got.length).toBe(clip.data.length);
    expect(got.equals(clip.data)).toBe(true);
  });

  it('converts A-law audio for a µ-law camera, and plays A-law to an A-law camera', async () => {
    const mu = await camera({ codec: 'pcmu' });
    await new BackchannelSpeaker(mu.url).play(tone('pcma', 0.5));
    await arrived(mu, 4000);
    expect(mu.received().length).toBe(4000);
    expect(dbfs(decode(mu.received(), 'pcmu'))).toBeGreaterThan(-12);
    const a = await camera({ codec: 'pcma' });
    await new BackchannelSpeaker(a.url).play(tone('pcma', 0.5));
    await arrived(a, 4000);
    expect(a.received().equals(tone('pcma', 0.5).data)).toBe(true);
  });

  it("answers the camera's Digest challenge; a wrong password is auth, nothing is sent", async () => {
    const cam = await camera({ user: 'admin', password: 'cam123' });
    await new BackchannelSpeaker(cam.url.replace('rtsp://', 'rtsp://admin:cam123@')).play(tone('pcmu', 0.5));
    await arrived(cam, 4000);
    expect(cam.received().length).toBe(4000);
    await expect(new BackchannelSpeaker(cam.url, { username: 'admin', password: 'nope' }).play(tone('pcmu', 0.3))).rejects.toMatchObject({
      code: 'auth',
    });
    await expect(new BackchannelSpeaker(cam.url).play(tone('pcmu', 0.3))).rejects.toMatchObject({
      code: 'auth',
      message: expect.stringContaining('none are configured'),
    });
    expect(cam.received().length).toBe(4000);
  });

  it('maps a wrong path to not_found, a closed port to refused, and a silent server to timeout', async () => {
    const cam = await camera();
    await expect(new BackchannelSpeaker(cam.url.replace('/onvif', '/nothing')).play(tone('pcmu', 0.2))).rejects.toMatchObject({
      code: 'not_found',
    });
    const port = await freePort();
    await expect(new BackchannelSpeaker(`rtsp://127.0.0.1:${port}/onvif`).play(tone('pcmu', 0.2))).rejects.toMatchObject({
      code: 'refused',
    });
    const held: net.Socket[] = [];
    const mute = net.createServer((s) => void held.push(s));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => (held.forEach((s) => s.destroy()), mute.close(r))));
    const mp = (mute.address() as net.AddressInfo).port;
    await expect(new BackchannelSpeaker(`rtsp://127.0.0.1:${mp}/onvif`, { timeoutMs: 800 }).play(tone('pcmu', 0.2))).rejects.toMatchObject({
      code: 'timeout',
    });
  });
});

/**
 * The camera's GStreamer pipeline writes what it gets as it gets it (unbuffered), but on a
 * busy machine the last packets may land a while after the session ended.
 */
async function arrived(cam: { received(): Buffer }, bytes: number, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (cam.received().length < bytes && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}
