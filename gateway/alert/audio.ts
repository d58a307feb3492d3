/**
 * Spoken warnings as audio a speaker can play: synthesised offline with espeak-ng
 * (Mandarin, `cmn`), loudness-normalised and transcoded once by ffmpeg to the speaker's
 * codec, then cached on disk by text, voice, codec and gain. A warning never waits for
 * synthesis twice.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Audio, AudioCodec } from '../../devices/speakers/types.ts';
import { runCommand } from '../../devices/util/launcher.ts';

export interface VoiceOptions {
  voice: string;
  /** Words per minute. */
  speed: number;
}

const FORMAT: Record<AudioCodec, { f: string; rate: number; bytesPerSample: number }> = {
  pcma: { f: 'alaw', rate: 8000, bytesPerSample: 1 },
  pcmu: { f: 'mulaw', rate: 8000, bytesPerSample: 1 },
  pcm_s16le: { f: 's16le', rate: 16000, bytesPerSample: 2 },
  aac: { f: 'adts', rate: 16000, bytesPerSample: 0 },
};

/** From the launcher's process: a warning synthesised mid-run must not stall the cameras. */
async function run(cmd: string, args: string[], input?: Buffer): Promise<Buffer> {
  const r = await runCommand(cmd, args, { input: input ?? Buffer.alloc(0) }).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`cannot run ${cmd}: ${e.message}${e.code === 'ENOENT' ? ' (install it: bash scripts/peers.sh run)' : ''}`);
  });
  if (r.code === 0) return r.stdout;
  throw new Error(`${cmd} failed (${r.code ?? r.signal}): ${r.stderr.trim().split('\n').slice(-2).join(' ')}`);
}

/** espeak-ng writes a WAV to stdout; the text goes in on stdin (no shell, no quoting). */
export function synthesise(text: string, v: VoiceOptions): Promise<Buffer> {
  return run('espeak-ng', ['-v', v.voice, '-s', String(v.speed), '--stdout'], Buffer.from(text, 'utf8'));
}

/**
 * Any audio file ffmpeg can read (WAV/MP3 recorded by staff, or espeak's WAV) to raw
 * samples in `codec`. loudnorm brings quiet recordings and TTS to the same loudness;
 * a short fade avoids clicks on cheap horn speakers.
 */
export async function transcode(input: Buffer | string, codec: AudioCodec, gainDb = 0): Promise<Buffer> {
  const f = FORMAT[codec];
  const src = typeof input === 'string' ? ['-i', input] : ['-i', 'pipe:0'];
  const filters = [`loudnorm=I=-16:TP=-1.5:LRA=11`, `afade=t=in:d=0.02`, ...(gainDb ? [`volume=${gainDb}dB`] : []), `aresample=${f.rate}`];
  return run(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      ...src,
      '-af',
      filters.join(','),
      '-ac',
      '1',
      '-ar',
      String(f.rate),
      '-f',
      f.f,
      'pipe:1',
    ],
    typeof input === 'string' ? undefined : input,
  );
}

/** A speech engine (gateway/alert/tts.ts): its key names engine, voice and settings. */
export interface SpeechSource {
  readonly key: string;
  synthesise(text: string): Promise<Buffer>;
}

export class AudioCache {
  private readonly dir: string;
  private readonly tts: SpeechSource;
  private readonly pending = new Map<string, Promise<Audio>>();

  constructor(dir: string, voice: VoiceOptions | SpeechSource) {
    this.dir = dir;
    this.tts = 'synthesise' in voice ? voice : { key: `espeak:${voice.voice}:${voice.speed}`, synthesise: (t) => synthesise(t, voice) };
    mkdirSync(dir, { recursive: true });
  }

  /** Audio for a text (synthesised) or a recorded clip (`file`), in `codec`. */
  get(o: { text: string; file?: string; codec: AudioCodec; gainDb?: number }): Promise<Audio> {
    const key = createHash('sha256')
      // A clip is keyed by its size and time too, so a re-recorded file replaces the old audio.
      .update(JSON.stringify([o.file ? `file:${o.file}:${clipStamp(o.file)}` : `tts:${this.tts.key}:${o.text}`, o.codec, o.gainDb ?? 0, 2]))
      .digest('hex')
      .slice(0, 32);
    let p = this.pending.get(key);
    if (!p) {
      p = this.load(key, o).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private async load(key: string, o: { text: string; file?: string; codec: AudioCodec; gainDb?: number }): Promise<Audio> {
    const path = join(this.dir, `${key}.${o.codec}`);
    let data: Buffer;
    if (existsSync(path)) data = readFileSync(path);
    else {
      const source = o.file ?? (await this.tts.synthesise(o.text));
      data = await transcode(source, o.codec, o.gainDb);
      if (data.length === 0) throw new Error(`no audio produced for "${o.text}"`);
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, data);
      renameSync(tmp, path);
      rmSync(tmp, { force: true });
    }
    const f = FORMAT[o.codec];
    const durationMs = f.bytesPerSample ? (data.length / f.bytesPerSample / f.rate) * 1000 : 0;
    return { codec: o.codec, sampleRate: f.rate, channels: 1, data, durationMs };
  }
}

function clipStamp(file: string): string {
  try {
    const st = statSync(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}
