/**
 * The vendor HTTP speaker drivers (Hikvision ISAPI, Dahua CGI) against fake devices that
 * follow the vendors' documented flows and record what arrives, and when.
 */
import http from 'node:http';
import { tone } from '../helpers/audio.ts';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Audio, AudioCodec } from '../../devices/speakers/types.ts';
import { IsapiSpeaker } from '../../devices/speakers/isapi/driver.ts';
import { DahuaSpeaker } from '../../devices/speakers/dahua/driver.ts';
import { startFakeHikvision, type Upload } from '../peers/hikvision.ts';
import { startFakeDahua } from '../peers/dahua.ts';

/** Real-time pacing as seen by the device: total span, and never ahead of or behind the clock. */
function expectRealTime(upload: Upload, durationMs: number) {
  const t0 = upload.chunks[0].at;
  const span = upload.chunks.at(-1)!.at - t0;
  expect(span).toBeGreaterThan(durationMs - 300);
  expect(span).toBeLessThan(durationMs + 250);
  let before = 0;
  for (const c of upload.chunks) {
    const due = (c.at - t0) * 8; // bytes the clock allows by now at 8000 B/s
    expect(before).toBeLessThanOrEqual(due + 8 * 150); // no burst beyond a small lead
    expect(before).toBeGreaterThanOrEqual(due - 8 * 250); // no stall
    before += c.data.length;
  }
}

async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});
async function hikvision(o: Parameters<typeof startFakeHikvision>[0] = {}) {
  const fake = await startFakeHikvision(o);
  cleanup.push(fake.close);
  return fake;
}
async function dahua(o: Parameters<typeof startFakeDahua>[0] = {}) {
  const fake = await startFakeDahua(o);
  cleanup.push(fake.close);
  return fake;
}

describe('Hikvision ISAPI speaker', () => {
  it('plays a 2 s µ-law clip: exact bytes, real-time pace, channel closed after', async () => {
    const fake = await hikvision();
    const speaker = new IsapiSpeaker(fake.url());
    expect(await speaker.probe()).toEqual(['pcmu']);
    const clip = tone('pcmu', 2);
    const result = await speaker.play(clip);
    expect(fake.uploads).toHaveLength(1);
    const [upload] = fake.uploads;
    expect(upload.complete).toBe(true);
    expect(upload.data().equals(clip.data)).toBe(true);
    expect(upload.contentType).toBe('application/octet-stream');
    expect(upload.path).toMatch(/\/audioData\?sessionId=\d+$/);
    expectRealTime(upload, 2000);
    expect(result.bytes).toBe(clip.data.length);
    expect(result.sentMs).toBeGreaterThan(1700);
    expect(fake.isOpen(1)).toBe(false);
    expect(fake.hits.map((h) => `${h.method} ${h.path.split('/').pop()} ${h.status}`).filter((h) => !h.endsWith('401'))).toEqual([
      'GET 1 200',
      'GET 1 200',
      'PUT open 200',
      'PUT audioData 200',
      'PUT close 200',
    ]);
  });

  it('follows the channel codec: A-law channel takes pcma; G.726 takes nothing we send', async () => {
    const fake = await hikvision({ channels: { 1: 'G.711alaw', 2: 'G.726' } });
    const alawSpeaker = new IsapiSpeaker(fake.url());
    expect(await alawSpeaker.probe()).toEqual(['pcma']);
    await expect(alawSpeaker.play(tone('pcmu', 0.1))).rejects.toMatchObject({ code: 'unsupported' });
    const g726 = new IsapiSpeaker(fake.url({ channel: 2 }));
    await expect(g726.play(tone('pcmu', 0.1))).rejects.toMatchObject({ code: 'unsupported', message: expect.stringContaining('G.726') });
    expect(g726.codecs).toEqual([]);
    expect(fake.hits.some((h) => h.path.endsWith('/open'))).toBe(false);
    await expect(new IsapiSpeaker(fake.url({ channel: 7 })).play(tone('pcmu', 0.1))).rejects.toMatchObject({ code: 'not_found' });
  });

  it('maps a wrong password to auth and a channel held by someone else to busy, leaving it open', async () => {
    const fake = await hikvision({ heldByOthers: [1] });
    await expect(new IsapiSpeaker(fake.url({ password: 'wrong' })).play(tone('pcmu', 0.1))).rejects.toMatchObject({ code: 'auth' });
    const err = await new IsapiSpeaker(fake.url()).play(tone('pcmu', 0.1)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'busy', message: expect.stringContaining('deviceBusy') });
    expect(fake.isOpen(1)).toBe(true);
    expect(fake.hits.some((h) => h.path.endsWith('/close'))).toBe(false);
  });

  it('stops sending on abort and still closes the channel', async () => {
    const fake = await hikvision({ algorithm: 'SHA-256' });
    const speaker = new IsapiSpeaker(fake.url());
    const ac = new AbortController();
    const playing = speaker.play(tone('pcmu', 2), ac.signal);
    await sleep(600);
    const abortedAt = performance.now();
    ac.abort();
    await expect(playing).rejects.toMatchObject({ name: 'AbortError' });
    const [upload] = fake.uploads;
    const received = upload.data().length;
    expect(upload.complete).toBe(false);
    expect(received).toBeGreaterThan(8 * 300);
    expect(received).toBeLessThan(8 * 900);
    expect(fake.isOpen(1)).toBe(false);
    expect(fake.hits.find((h) => h.path.endsWith('/close') && h.status === 200)!.at).toBeGreaterThan(abortedAt);
    await sleep(200);
    expect(upload.data().length).toBe(received);
  });

  it('accepts firmware that never answers the upload, and maps a closed port to refused', async () => {
    const fake = await hikvision({ silentAudioData: true });
    const result = await new IsapiSpeaker(fake.url(), { answerGraceMs: 200 }).play(tone('pcmu', 0.3));
    expect(result.detail).toContain('no answer');
    expect(fake.uploads[0].data().length).toBe(2400);
    expect(fake.isOpen(1)).toBe(false);
    const port = await closedPort();
    await expect(new IsapiSpeaker(`isapi://admin:x@127.0.0.1:${port}/?channel=1`).play(tone('pcmu', 0.1))).rejects.toMatchObject({
      code: 'refused',
    });
  });
});

describe('Dahua CGI speaker', () => {
  it('plays a 2 s A-law clip: exact bytes, documented Content-Type, real-time pace', async () => {
    const fake = await dahua();
    const speaker = new DahuaSpeaker(fake.url());
    expect(speaker.codecs).toEqual<AudioCodec[]>(['pcma']);
    const clip = tone('pcma', 2);
    const result = await speaker.play(clip);
    const [upload] = fake.uploads;
    expect(upload.complete).toBe(true);
    expect(upload.data().equals(clip.data)).toBe(true);
    expect(upload.contentType).toBe('Audio/G.711A');
    expect(upload.path).toBe('/cgi-bin/audio.cgi?action=postAudio&httptype=singlepart&channel=1');
    expectRealTime(upload, 2000);
    expect(result).toMatchObject({ bytes: clip.data.length, detail: 'HTTP 200 OK' });
  });

  it('maps wrong password to auth, a talking channel to busy, and refused connections', async () => {
    const fake = await dahua({ heldByOthers: [1] });
    await expect(new DahuaSpeaker(fake.url({ password: 'wrong' })).play(tone('pcma', 0.1))).rejects.toMatchObject({ code: 'auth' });
    await expect(new DahuaSpeaker(fake.url()).play(tone('pcma', 0.1))).rejects.toMatchObject({ code: 'busy' });
    expect(fake.uploads).toHaveLength(0);
    const port = await closedPort();
    await expect(new DahuaSpeaker(`dahua://admin:x@127.0.0.1:${port}/`).play(tone('pcma', 0.1))).rejects.toMatchObject({ code: 'refused' });
  });

  it('refuses codecs audio.cgi cannot take, and reports a law the device rejects', async () => {
    const fake = await dahua({ accepts: ['Audio/G.711A'] });
    const pcm: Audio = { codec: 'pcm_s16le', sampleRate: 8000, channels: 1, data: Buffer.alloc(1600), durationMs: 100 };
    await expect(new DahuaSpeaker(fake.url()).play(pcm)).rejects.toMatchObject({ code: 'unsupported' });
    const mulaw = new DahuaSpeaker(fake.url({ codec: 'pcmu' }));
    expect(mulaw.codecs).toEqual(['pcmu']);
    await expect(mulaw.play(tone('pcmu', 0.1))).rejects.toMatchObject({
      code: 'rejected',
      message: expect.stringContaining('Bad Request'),
    });
    await expect(new DahuaSpeaker(fake.url({ channel: 3 })).play(tone('pcma', 0.1))).rejects.toMatchObject({ code: 'rejected' });
  });

  it('works with Basic-only firmware and with a device that never answers the upload', async () => {
    const basic = await dahua({ basicOnly: true });
    const ok = await new DahuaSpeaker(basic.url()).play(tone('pcma', 0.3));
    expect(ok.bytes).toBe(2400);
    expect(basic.uploads[0].data().length).toBe(2400);
    const silent = await dahua({ silent: true });
    const result = await new DahuaSpeaker(silent.url(), { answerGraceMs: 200 }).play(tone('pcma', 0.3));
    expect(result.detail).toBe('no answer after the upload');
    expect(silent.uploads[0].complete).toBe(true);
  });

  it('stops the upload on abort, and on close()', async () => {
    const fake = await dahua();
    const ac = new AbortController();
    const speaker = new DahuaSpeaker(fake.url());
    const playing = speaker.play(tone('pcma', 2), ac.signal);
    await sleep(400);
    ac.abort();
    await expect(playing).rejects.toMatchObject({ name: 'AbortError' });
    await sleep(100);
    expect(fake.uploads[0].complete).toBe(false);
    expect(fake.uploads[0].data().length).toBeLessThan(8 * 700);

    const again = speaker.play(tone('pcma', 2));
    await sleep(200);
    await speaker.close();
    await expect(again).rejects.toMatchObject({ name: 'AbortError' });
    expect(fake.uploads[1].complete).toBe(false);
  });
});
