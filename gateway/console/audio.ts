/**
 * The warning for the browser when its evidence recording is gone (retention, a full disk,
 * a set from before recordings were kept): from the audio cache the warner plays from,
 * keyed by text, codec and gain, with the speaker's codec and gain (the same bytes, when
 * it is still cached; synthesised again the same way otherwise), turned into a WAV file.
 */
import type { AudioCache } from '../alert/audio.ts';
import type { SpeakerSettings } from '../settings/schema.ts';
import { alawToLinear, ulawToLinear } from '../../devices/speakers/rtp/g711.ts';
import { wavOf } from '../evidence/files.ts';

export async function warningWav(cache: AudioCache, text: string, speaker: SpeakerSettings | undefined): Promise<Buffer> {
  const codec = speaker?.codec === 'pcma' || speaker?.codec === 'pcmu' ? speaker.codec : 'pcm_s16le';
  const a = await cache.get({ text, codec, gainDb: speaker?.gain_db ?? 0 });
  if (codec === 'pcm_s16le') return wavOf('pcm_s16le', a.sampleRate, a.data);
  const out = Buffer.alloc(a.data.length * 2);
  const dec = codec === 'pcma' ? alawToLinear : ulawToLinear;
  for (let i = 0; i < a.data.length; i++) out.writeInt16LE(dec(a.data[i]), i * 2);
  // Browsers play 16-bit PCM WAV everywhere; G.711 WAV they may not.
  return wavOf('pcm_s16le', a.sampleRate, out);
}
