/**
 * Plain RTP paging against ffmpeg as the receiver: ffmpeg joins the address, decodes the
 * G.711 and writes 16-bit PCM. Checked:
 * not silence, and the length of the message, for unicast and for multicast on loopback.
 */
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { havePeers } from '../peers/require.ts';
import { RtpSpeaker, parseRtpUrl } from '../../devices/speakers/rtp/driver.ts';
import { dbfs, tone } from '../helpers/audio.ts';
import { ffmpegReceiver, multicastRoundTrip } from '../peers/rtp-receiver.ts';

const ok = havePeers('ffmpeg', 'unshare', 'ip');

async function udpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p & ~1; // RTP wants even ports
}

it('parses rtp:// URLs: unicast, multicast with ttl, codec and packet time', () => {
  expect(parseRtpUrl('rtp://192.168.1.50:5004')).toMatchObject({ host: '192.168.1.50', port: 5004, codec: 'pcma', ptimeMs: 20, ttl: 1 });
  expect(parseRtpUrl('rtp://239.1.1.10:5004?ttl=4&codec=pcmu&ptime=40')).toMatchObject({ ttl: 4, codec: 'pcmu', ptimeMs: 40 });
  expect(() => parseRtpUrl('rtp://h')).toThrow(/needs a port/);
  expect(() => parseRtpUrl('rtp://h:1?codec=opus')).toThrow(/not G.711/);
});

describe.runIf(ok)('RTP paging decoded by ffmpeg', () => {
  it('unicast: 3 s of A-law arrives as 3 s of sound', async () => {
    const port = await udpPort();
    const rx = ffmpegReceiver('127.0.0.1', port);
    await rx.ready;
    const r = await new RtpSpeaker('pa', parseRtpUrl(`rtp://127.0.0.1:${port}?codec=pcma`)).play(tone('pcma', 3));
    expect(r.sentMs).toBeGreaterThan(2850);
    const pcm = await rx.done;
    expect(Math.abs(pcm.length / 8000 - 3)).toBeLessThan(0.25);
    expect(dbfs(pcm)).toBeGreaterThan(-15);
  });

  it('multicast on loopback (private network namespace): 3 s of µ-law arrives as 3 s of sound', async () => {
    const r = await multicastRoundTrip({ group: '239.255.42.7', port: 40010, codec: 'pcmu', seconds: 3 });
    expect(r.sentMs).toBeGreaterThan(2850);
    expect(Math.abs(r.samples / 8000 - 3)).toBeLessThan(0.25);
    expect(r.dbfs).toBeGreaterThan(-15);
  });

  it('unicast to a port nobody listens on fails as refused instead of playing into the void', async () => {
    const port = await udpPort();
    await expect(new RtpSpeaker('pa', parseRtpUrl(`rtp://127.0.0.1:${port}`)).play(tone('pcma', 0.5))).rejects.toMatchObject({
      code: 'refused',
    });
  });
});
