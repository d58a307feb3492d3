/**
 * Spoken warnings: real espeak-ng (Mandarin) and ffmpeg into G.711, cached on disk; recorded
 * clips transcoded; a missing voice reported clearly.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AudioCache, synthesise, transcode } from '../../gateway/alert/audio.ts';
import { decode, rmsDbfs } from '../../scripts/sim/g711.ts';
import { CATALOGUE } from '../../gateway/rules/catalogue.ts';
import { havePeers } from '../peers/require.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gw-audio-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const VOICE = { voice: 'cmn', speed: 150 };
const TEXT = CATALOGUE.illegal_parking.message; // 您好，此处禁止停车，请尽快驶离。

function zeroCrossingsPerSecond(pcm: Int16Array): number {
  let n = 0;
  for (let i = 1; i < pcm.length; i++) if (pcm[i - 1] < 0 !== pcm[i] < 0) n++;
  return n / (pcm.length / 8000);
}

/** A WAV "recorded by staff": a sine made by ffmpeg. */
function sineWav(name: string, hz: number, seconds: number, rate = 44100): string {
  const f = join(tmp, name);
  execFileSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=${hz}:duration=${seconds}:sample_rate=${rate}`,
    '-ac',
    '1',
    f,
  ]);
  return f;
}

describe.runIf(havePeers('espeak-ng', 'ffmpeg'))('AudioCache', () => {
  const dir = join(tmp, 'cache');

  it.each(['pcma', 'pcmu'] as const)('synthesises Mandarin into %s at 8 kHz: longer than 1 s, not silent', async (codec) => {
    const cache = new AudioCache(dir, VOICE);
    const a = await cache.get({ text: TEXT, codec });
    expect(a.codec).toBe(codec);
    expect(a.sampleRate).toBe(8000);
    expect(a.channels).toBe(1);
    expect(a.durationMs).toBe((a.data.length / 8000) * 1000);
    expect(a.durationMs).toBeGreaterThan(1000);
    expect(a.durationMs).toBeLessThan(15_000);
    const pcm = decode(a.data, codec);
    expect(rmsDbfs(pcm)).toBeGreaterThan(-40);
    // Loudness-normalised, so not clipped flat either.
    expect(rmsDbfs(pcm)).toBeLessThan(-3);
  });

  it('a second call is served from the on-disk cache: fast, same bytes', async () => {
    const first = await new AudioCache(dir, VOICE).get({ text: TEXT, codec: 'pcma' });
    const files = readdirSync(dir).filter((f) => f.endsWith('.pcma'));
    expect(files).toHaveLength(1);
    expect(readFileSync(join(dir, files[0])).equals(first.data)).toBe(true);
    // A fresh instance (a restarted gateway) finds it on disk.
    const t0 = performance.now();
    const again = await new AudioCache(dir, VOICE).get({ text: TEXT, codec: 'pcma' });
    const ms = performance.now() - t0;
    expect(again.data.equals(first.data)).toBe(true);
    expect(ms).toBeLessThan(250); // synthesis + transcoding takes far longer
    // No temporary files are left behind.
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('concurrent requests for the same text share one synthesis', async () => {
    const cache = new AudioCache(join(tmp, 'concurrent'), VOICE);
    const [a, b] = await Promise.all([cache.get({ text: '请勿停车', codec: 'pcmu' }), cache.get({ text: '请勿停车', codec: 'pcmu' })]);
    expect(a).toBe(b);
  });

  it('text, voice speed, codec and gain each get their own cache entry', async () => {
    const d = join(tmp, 'keys');
    const slow = await new AudioCache(d, { voice: 'cmn', speed: 100 }).get({ text: '请勿停车', codec: 'pcma' });
    const fast = await new AudioCache(d, { voice: 'cmn', speed: 300 }).get({ text: '请勿停车', codec: 'pcma' });
    expect(slow.durationMs).toBeGreaterThan(fast.durationMs * 1.3);
    const quiet = await new AudioCache(d, { voice: 'cmn', speed: 100 }).get({ text: '请勿停车', codec: 'pcma', gainDb: -12 });
    expect(rmsDbfs(decode(quiet.data, 'pcma'))).toBeLessThan(rmsDbfs(decode(slow.data, 'pcma')) - 6);
    expect(readdirSync(d).filter((f) => f.endsWith('.pcma'))).toHaveLength(3);
  });

  it('a recorded WAV is transcoded (44.1 kHz sine → 8 kHz G.711, pitch kept)', async () => {
    const wav = sineWav('recorded-440.wav', 440, 2);
    const a = await new AudioCache(join(tmp, 'rec'), VOICE).get({ text: '(recording)', file: wav, codec: 'pcmu' });
    expect(a.codec).toBe('pcmu');
    expect(a.durationMs).toBeGreaterThan(1900);
    expect(a.durationMs).toBeLessThan(2100);
    const pcm = decode(a.data, 'pcmu');
    expect(rmsDbfs(pcm)).toBeGreaterThan(-40);
    const zc = zeroCrossingsPerSecond(pcm.subarray(800, pcm.length - 800));
    expect(zc).toBeGreaterThan(840);
    expect(zc).toBeLessThan(920);
  });

  // Was a bug: the cache key of a recorded clip is its path only, so when staff re-record the
  // message into the same file, the old audio keeps playing until the cache is wiped.
  it('a re-recorded file at the same path is transcoded again', async () => {
    const d = join(tmp, 'rerecord');
    const wav = sineWav('message.wav', 440, 1);
    const first = await new AudioCache(d, VOICE).get({ text: 'x', file: wav, codec: 'pcma' });
    expect(first.durationMs).toBeLessThan(1100);
    sineWav('message.wav', 880, 2);
    const second = await new AudioCache(d, VOICE).get({ text: 'x', file: wav, codec: 'pcma' });
    expect(second.durationMs).toBeGreaterThan(1900);
  });

  it('a missing espeak-ng voice gives a clear error and caches nothing', async () => {
    const d = join(tmp, 'novoice');
    const err = await new AudioCache(d, { voice: 'xx-nosuchvoice', speed: 150 }).get({ text: TEXT, codec: 'pcma' }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/^espeak-ng failed \(1\): /);
    expect(err!.message).toContain('voice does not exist');
    expect(readdirSync(d)).toEqual([]);
  });

  it('a missing recorded file names ffmpeg and the file', async () => {
    const missing = join(tmp, 'not-recorded.wav');
    const err = await new AudioCache(join(tmp, 'nofile'), VOICE).get({ text: 'x', file: missing, codec: 'pcma' }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err!.message).toMatch(/^ffmpeg failed/);
    expect(err!.message).toContain('not-recorded.wav');
  });

  it('synthesise returns a WAV; transcode works from a buffer', async () => {
    const wav = await synthesise('你好', VOICE);
    expect(wav.subarray(0, 4).toString('latin1')).toBe('RIFF');
    const alaw = await transcode(wav, 'pcma');
    expect(alaw.length).toBeGreaterThan(2000);
    const s16 = await transcode(wav, 'pcm_s16le');
    // 16 kHz, 2 bytes a sample: four times the bytes of 8 kHz G.711, give or take resampling edges.
    expect(s16.length / alaw.length).toBeGreaterThan(3.8);
    expect(s16.length / alaw.length).toBeLessThan(4.2);
  });
});
