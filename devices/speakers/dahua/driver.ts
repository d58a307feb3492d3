/**
 * Dahua CGI audio post as a speaker: one long POST to audio.cgi?action=postAudio whose body
 * is the raw G.711 stream, sent at real-time pace. There is no open/close: the upload is the
 * session, and the device plays what arrives. The docs give no answer for a finished upload
 * ("Response: N/A"), so silence after the last byte is success, not a timeout.
 *
 * Config: dahua://user:pass@host/?channel=1[&codec=pcmu] (dahuas:// for https).
 */
import type { Audio, AudioCodec, PlayResult, SpeakerDriver } from '../types.ts';
import { OneAtATime } from '../one-at-a-time.ts';
import { DeviceError, type DeviceErrorCode } from '../../errors.ts';
import { DigestSession, digestRequest, type DigestResponse } from '../../http/digest.ts';
import { pacedBody } from '../../util/pace.ts';

export interface DahuaSpeakerOptions {
  /** Names the speaker in errors; defaults to the URL without credentials. */
  id?: string;
  /** Socket inactivity limit. */
  timeoutMs?: number;
  /** Audio slice per write; the devices buffer only a few hundred ms. */
  chunkMs?: number;
  /** How long to wait for an answer after the last byte before calling it done. */
  answerGraceMs?: number;
}

/** The MIME names from the Dahua HTTP API's audio encode table (case as documented). */
const CONTENT_TYPE: Partial<Record<AudioCodec, string>> = { pcma: 'Audio/G.711A', pcmu: 'Audio/G.711Mu' };

export class DahuaSpeaker implements SpeakerDriver {
  readonly id: string;
  readonly codecs: readonly AudioCodec[];
  readonly #url: string;
  readonly #user?: string;
  readonly #password?: string;
  readonly #opts: Required<Omit<DahuaSpeakerOptions, 'id'>>;
  readonly #session = new DigestSession();
  readonly #one: OneAtATime;

  constructor(url: string, options: DahuaSpeakerOptions = {}) {
    const u = new URL(url);
    const channel = u.searchParams.get('channel') ?? '1'; // audio.cgi channels count from 1
    this.id = options.id ?? `dahua://${u.host}/?channel=${channel}`;
    this.#one = new OneAtATime(this.id);
    if (u.protocol !== 'dahua:' && u.protocol !== 'dahuas:')
      throw new DeviceError('unsupported', this.id, `expected a dahua:// URL, got ${u.protocol}`);
    const codec = (u.searchParams.get('codec') ?? 'pcma') as AudioCodec;
    if (!CONTENT_TYPE[codec]) throw new DeviceError('unsupported', this.id, `codec=${codec}: audio.cgi takes pcma or pcmu`);
    // A-law is what the API documents in every example; µ-law only if the installer says so.
    this.codecs = [codec];
    this.#user = u.username ? decodeURIComponent(u.username) : undefined;
    this.#password = decodeURIComponent(u.password);
    const scheme = u.protocol === 'dahuas:' ? 'https' : 'http';
    const query = `action=postAudio&httptype=singlepart&channel=${encodeURIComponent(channel)}`;
    this.#url = `${scheme}://${u.host}/cgi-bin/audio.cgi?${query}`;
    this.#opts = { timeoutMs: 5000, chunkMs: 20, answerGraceMs: 1500, ...options };
  }

  play(audio: Audio, signal?: AbortSignal): Promise<PlayResult> {
    return this.#one.run(signal, (sig) => this.#play(audio, sig));
  }

  /** Stops a message in progress; dropping the connection is how the device is told to stop. */
  close(): Promise<void> {
    return this.#one.stop();
  }

  async #play(audio: Audio, signal: AbortSignal): Promise<PlayResult> {
    const type = CONTENT_TYPE[audio.codec];
    if (!type || audio.sampleRate !== 8000)
      throw new DeviceError('unsupported', this.id, `audio.cgi takes 8 kHz G.711, not ${audio.codec} at ${audio.sampleRate} Hz`);
    let first = 0;
    const slices = pacedBody(audio.data, audio.sampleRate, { chunkMs: this.#opts.chunkMs, signal });
    const body = (async function* () {
      for await (const slice of slices) yield ((first ||= performance.now()), slice);
    })();
    const res = await digestRequest({
      url: this.#url,
      method: 'POST',
      user: this.#user,
      password: this.#password,
      session: this.#session,
      device: this.id,
      timeoutMs: this.#opts.timeoutMs,
      signal,
      // The real length, not the docs' placeholder 9999999: the device then knows where the message ends.
      headers: { 'content-type': type, 'content-length': String(audio.data.length) },
      body,
      answerGraceMs: this.#opts.answerGraceMs,
    });
    const sentMs = first ? performance.now() - first : 0;
    const text = res.body.toString('utf8').trim();
    if (res.status !== 0 && (res.status >= 300 || text.startsWith('Error'))) throw this.#error(res, text, type);
    if (res.sentBytes < audio.data.length)
      throw new DeviceError('rejected', this.id, `device stopped taking audio after ${res.sentBytes} of ${audio.data.length} bytes`);
    return {
      sentMs,
      bytes: res.sentBytes,
      detail: res.status ? `HTTP ${res.status} ${text.slice(0, 40)}`.trim() : 'no answer after the upload',
    };
  }

  /**
   * Dahua errors are plain text, "Error\r\n<reason>!\r\n". Firmware differs in the HTTP status
   * it pairs with a reason (400 or 501 for an unknown action), so the reason text decides first.
   */
  #error(res: DigestResponse, text: string, type: string): DeviceError {
    const reason = text.startsWith('Error') ? text.slice(5).trim().replace(/!$/, '') : text.slice(0, 80);
    const r = reason.toLowerCase();
    const code: DeviceErrorCode =
      r.includes('authority') || res.status === 401 || res.status === 403
        ? 'auth'
        : r.includes('busy') || res.status === 503
          ? 'busy'
          : r.includes('not implemented') || res.status === 404 || res.status === 501
            ? 'unsupported'
            : 'rejected';
    const hint = code === 'rejected' && res.status === 400 ? ` (the channel or ${type} may not be accepted)` : '';
    return new DeviceError(code, this.id, `postAudio: HTTP ${res.status} ${reason || 'no reason given'}${hint}`);
  }
}

export function createDahuaSpeaker(url: string, options?: DahuaSpeakerOptions): DahuaSpeaker {
  return new DahuaSpeaker(url, options);
}
