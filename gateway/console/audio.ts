/**
 * The warning as played, for the browser. The gateway keeps no recording of what went
 * out; it keeps the audio cache the warner plays from, keyed by text, codec and gain. So
 * the clip comes from that cache with the speaker's codec and gain (the same bytes, when
 * it is still cached; synthesised again the same way otherwise), turned into a WAV file.
 */
import type { AudioCache } from '../alert/audio.ts';
import type { SpeakerSettings } from '../settings/schema.ts';
import { alawToLinear, ulawToLinear } from '../../devices/speakers/rtp/g711.ts';

export function wav(pcm16: Buffer, rate: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + pcm16.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(pcm16.length, 40);
  return Buffer.concat([h, pcm16]);
}

export async function warningWav(cache: AudioCache, text: string, speaker: SpeakerSettings | undefined): Promise<Buffer> {
  const codec = speaker?.codec === 'pcma' || speaker?.codec === 'pcmu' ? speaker.codec : 'pcm_s16le';
  const a = await cache.get({ text, codec, gainDb: speaker?.gain_db ?? 0 });
  if (codec === 'pcm_s16le') return wav(a.data, a.sampleRate);
  const out = Buffer.alloc(a.data.length * 2);
  const dec = codec === 'pcma' ? alawToLinear : ulawToLinear;
  for (let i = 0; i < a.data.length; i++) out.writeInt16LE(dec(a.data[i]), i * 2);
  return wav(out, a.sampleRate);
}
