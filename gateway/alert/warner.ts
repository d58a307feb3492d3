/**
 * Plays spoken warnings on speakers: one message at a time per speaker (a queue each),
 * every attempt reported as played or failed with the device's reason.
 */
import type { Audio, SpeakerDriver } from '../../devices/speakers/types.ts';
import { isDeviceError } from '../../devices/errors.ts';
import type { AudioCache } from './audio.ts';
import type { WarningOutcome } from './types.ts';
import type { Clock } from '../clock.ts';
import { existsSync } from 'node:fs';

export interface WarnRequest {
  eventId: string | null;
  text: string;
  speakers: string[];
  /** A recorded clip to play instead of synthesised speech. */
  file?: string;
  /** 0 for the first warning, 1.. for the firmer repeats. */
  repeat?: number;
}

export class Warner {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly drivers: Map<string, SpeakerDriver>;
  private readonly audio: AudioCache;
  private readonly clock: Clock;
  private readonly gains: Map<string, number>;
  /** Sees the audio just before it plays (the evidence keeps it as played). */
  onPlay?: (req: WarnRequest, speaker: string, audio: Audio) => void;
  /** Where the time before each play went (debug level). */
  log?: { debug(fields: object, msg: string): void };

  constructor(drivers: Map<string, SpeakerDriver>, audio: AudioCache, clock: Clock, gains = new Map<string, number>()) {
    this.drivers = drivers;
    this.audio = audio;
    this.clock = clock;
    this.gains = gains;
  }

  /** Plays on every listed speaker (in parallel across speakers, queued per speaker). */
  warn(req: WarnRequest, signal?: AbortSignal): Promise<WarningOutcome[]> {
    return Promise.all(req.speakers.map((id) => this.enqueue(id, () => this.playOne(id, req, signal))));
  }

  /**
   * Makes the audio of a warning ready (synthesised, transcoded, cached) for every listed
   * speaker without playing it, so that its first play does not wait for the speech
   * engine. A failure is left for the play to report.
   */
  async prepare(req: Pick<WarnRequest, 'text' | 'file' | 'speakers'>): Promise<void> {
    for (const id of req.speakers) {
      const driver = this.drivers.get(id);
      if (!driver?.codecs.length) continue;
      const file = req.file && existsSync(req.file) ? req.file : undefined;
      await this.audio.get({ text: req.text, file, codec: driver.codecs[0], gainDb: this.gains.get(id) }).catch(() => undefined);
    }
  }

  private enqueue<T>(speaker: string, job: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(speaker) ?? Promise.resolve();
    const next = prev.then(job, job);
    this.queues.set(
      speaker,
      next.catch(() => undefined),
    );
    return next;
  }

  private async playOne(id: string, req: WarnRequest, signal?: AbortSignal): Promise<WarningOutcome> {
    const base = { eventId: req.eventId, speaker: id, text: req.text, at: this.clock.now(), repeat: req.repeat ?? 0 };
    const driver = this.drivers.get(id);
    if (!driver) return { ...base, outcome: 'failed', code: 'unsupported', reason: `no speaker "${id}"`, durationMs: 0 };
    let audio;
    // A missing clip must not silence the warning: speak the text and say so.
    const file = req.file && existsSync(req.file) ? req.file : undefined;
    const note = req.file && !file ? `clip ${req.file} missing, spoke the text; ` : '';
    try {
      if (!driver.codecs.length) throw new Error('the speaker takes no codec we can prepare');
      const t0 = performance.now();
      audio = await this.audio.get({ text: req.text, file, codec: driver.codecs[0], gainDb: this.gains.get(id) });
      this.log?.debug({ event: req.eventId, speaker: id, audio_ms: Math.round(performance.now() - t0) }, 'warning audio ready');
    } catch (e) {
      return { ...base, outcome: 'failed', code: 'no_audio', reason: (e as Error).message, durationMs: 0 };
    }
    try {
      this.onPlay?.(req, id, audio);
    } catch {
      // Keeping a copy must never stop the warning.
    }
    try {
      // A driver that hangs must not hold this speaker's queue for ever.
      const limit = AbortSignal.timeout(Math.ceil(audio.durationMs) + 30_000);
      const r = await driver.play(audio, signal ? AbortSignal.any([signal, limit]) : limit);
      return {
        ...base,
        outcome: 'played',
        code: null,
        reason: `${note}${r.detail ?? ''}` || null,
        durationMs: Math.round(audio.durationMs),
      };
    } catch (e) {
      const aborted = (e as Error).name === 'AbortError';
      return {
        ...base,
        outcome: 'failed',
        code: isDeviceError(e) ? e.code : aborted ? 'timeout' : 'rejected',
        reason: `${note}${(e as Error).message}`,
        durationMs: 0,
      };
    }
  }
}
