/**
 * Hikvision ISAPI two-way audio as a speaker. Per message: read the channel's codec, open the
 * channel, PUT the G.711 bytes to audioData at real-time pace, close the channel. The channel
 * is exclusive on the device, so a channel we opened is always closed again, whatever
 * happened in between; a channel someone else holds (deviceBusy) is left alone.
 *
 * Config: isapi://user:pass@host:80/?channel=1 (isapis:// for https).
 */
import type { Audio, AudioCodec, PlayResult, SpeakerDriver } from '../types.ts';
import { OneAtATime } from '../one-at-a-time.ts';
import { DeviceError, type DeviceErrorCode } from '../../errors.ts';
import { DigestSession, digestRequest, type DigestResponse } from '../../http/digest.ts';
import { pacedBody } from '../../util/pace.ts';
import { xmlRoot, xmlText } from './xml.ts';

export interface IsapiSpeakerOptions {
  /** Names the speaker in errors; defaults to the URL without credentials. */
  id?: string;
  /** Socket inactivity limit per request. */
  timeoutMs?: number;
  /** Audio slice per write; the devices buffer only a few hundred ms. */
  chunkMs?: number;
  /** Some firmware never answers the audioData PUT; after the last byte we wait this long. */
  answerGraceMs?: number;
}

/** audioCompressionType values (TwoWayAudioChannel) we can feed; G.726, AAC, MP2L2 are not G.711. */
const COMPRESSION: Record<string, AudioCodec> = { 'g.711ulaw': 'pcmu', 'g.711alaw': 'pcma' };

/**
 * ResponseStatus subStatusCode → error code, where it says more than the HTTP status: firmware
 * answers 403 both for missing rights and for unsupported features. Others (badParameters,
 * badXmlContent, invalidOperation, ...) fall through to the HTTP status, then to 'rejected'.
 */
const SUB_STATUS: Record<string, DeviceErrorCode> = {
  deviceBusy: 'busy',
  badAuthorization: 'auth',
  incorrectUserNameOrPassword: 'auth',
  lowPrivilege: 'auth',
  notSupport: 'unsupported',
  methodNotAllowed: 'unsupported',
};

export class IsapiSpeaker implements SpeakerDriver {
  readonly id: string;
  readonly #base: string;
  readonly #channel: string;
  readonly #user?: string;
  readonly #password?: string;
  readonly #opts: Required<Omit<IsapiSpeakerOptions, 'id'>>;
  readonly #session = new DigestSession();
  // Hikvision ships channels set to G.711ulaw; probe() replaces this guess with the device's answer.
  #codecs: readonly AudioCodec[] = ['pcmu', 'pcma'];
  #compression = 'not read yet';
  readonly #one: OneAtATime;

  constructor(url: string, options: IsapiSpeakerOptions = {}) {
    const u = new URL(url);
    this.#channel = u.searchParams.get('channel') ?? '1';
    this.id = options.id ?? `isapi://${u.host}/?channel=${this.#channel}`;
    this.#one = new OneAtATime(this.id);
    if (u.protocol !== 'isapi:' && u.protocol !== 'isapis:')
      throw new DeviceError('unsupported', this.id, `expected an isapi:// URL, got ${u.protocol}`);
    this.#user = u.username ? decodeURIComponent(u.username) : undefined;
    this.#password = decodeURIComponent(u.password);
    const scheme = u.protocol === 'isapis:' ? 'https' : 'http';
    this.#base = `${scheme}://${u.host}/ISAPI/System/TwoWayAudio/channels/${encodeURIComponent(this.#channel)}`;
    this.#opts = { timeoutMs: 5000, chunkMs: 20, answerGraceMs: 1500, ...options };
  }

  get codecs(): readonly AudioCodec[] {
    return this.#codecs;
  }

  /** Reads the channel's audioCompressionType; afterwards `codecs` is what the device will decode. */
  async probe(signal?: AbortSignal): Promise<readonly AudioCodec[]> {
    const res = await this.#request('GET', '', signal);
    if (res.status !== 200) throw this.#error(res, `reading two-way audio channel ${this.#channel}`);
    const xml = res.body.toString('utf8');
    const type = xmlText(xml, 'audioCompressionType');
    if (xmlRoot(xml) !== 'TwoWayAudioChannel' || !type)
      throw new DeviceError('protocol', this.id, `unexpected answer for channel ${this.#channel}: ${xml.slice(0, 120)}`);
    this.#compression = type;
    const codec = COMPRESSION[type.toLowerCase()];
    this.#codecs = codec ? [codec] : [];
    return this.#codecs;
  }

  play(audio: Audio, signal?: AbortSignal): Promise<PlayResult> {
    return this.#one.run(signal, (sig) => this.#play(audio, sig));
  }

  /** Stops a message in progress; its channel is still closed before this resolves. */
  close(): Promise<void> {
    return this.#one.stop();
  }

  async #play(audio: Audio, signal: AbortSignal): Promise<PlayResult> {
    if ((audio.codec !== 'pcmu' && audio.codec !== 'pcma') || audio.sampleRate !== 8000)
      throw new DeviceError('unsupported', this.id, `ISAPI talk takes 8 kHz G.711, not ${audio.codec} at ${audio.sampleRate} Hz`);
    await this.probe(signal);
    if (!this.#codecs.includes(audio.codec)) {
      const fix = this.#codecs.length ? `prepare ${this.#codecs[0]} instead` : 'set the channel to G.711ulaw or G.711alaw';
      throw new DeviceError(
        'unsupported',
        this.id,
        `channel ${this.#channel} is set to ${this.#compression}, cannot play ${audio.codec}: ${fix}`,
      );
    }
    let opened = false;
    let result: PlayResult | undefined;
    try {
      const open = await this.#request('PUT', '/open', signal).catch((e: unknown) => {
        // No answer in time: the device may have opened it for us all the same.
        opened = e instanceof DeviceError && e.code === 'timeout';
        throw e;
      });
      if (open.status !== 200) throw this.#error(open, `opening channel ${this.#channel}`);
      opened = true;
      result = await this.#send(audio, xmlText(open.body.toString('utf8'), 'sessionId'), signal);
    } finally {
      // Not the caller's signal: an aborted message must still release the channel.
      const failed = opened ? await this.#closeChannel() : undefined;
      if (failed && result) result = { ...result, detail: `${result.detail}; closing the channel failed: ${failed}` };
    }
    return result;
  }

  async #send(audio: Audio, sessionId: string | undefined, signal: AbortSignal): Promise<PlayResult> {
    let first = 0;
    const slices = pacedBody(audio.data, audio.sampleRate, { chunkMs: this.#opts.chunkMs, signal });
    const body = (async function* () {
      for await (const slice of slices) yield ((first ||= performance.now()), slice);
    })();
    const query = sessionId ? `?sessionId=${encodeURIComponent(sessionId)}` : '';
    const res = await digestRequest({
      ...this.#http(signal),
      url: `${this.#base}/audioData${query}`,
      method: 'PUT',
      // A known length rather than chunked: embedded servers handle it best and the docs show it.
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(audio.data.length) },
      body,
      answerGraceMs: this.#opts.answerGraceMs,
    });
    const sentMs = first ? performance.now() - first : 0;
    if (res.status !== 0 && !accepted(res)) throw this.#error(res, 'sending audio');
    if (res.sentBytes < audio.data.length)
      throw new DeviceError('rejected', this.id, `device stopped taking audio after ${res.sentBytes} of ${audio.data.length} bytes`);
    const answered = res.status ? `HTTP ${res.status}` : 'no answer after the upload';
    return { sentMs, bytes: res.sentBytes, detail: `${answered}${sessionId ? `, session ${sessionId}` : ''}` };
  }

  /** Returns why closing failed, if it did; a failed close must not hide the original error. */
  async #closeChannel(): Promise<string | undefined> {
    try {
      const res = await this.#request('PUT', '/close');
      return accepted(res) ? undefined : this.#error(res, 'closing').message;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  #http(signal?: AbortSignal) {
    const { timeoutMs } = this.#opts;
    return { user: this.#user, password: this.#password, session: this.#session, device: this.id, timeoutMs, signal };
  }

  #request(method: 'GET' | 'PUT', suffix: string, signal?: AbortSignal): Promise<DigestResponse> {
    const headers: Record<string, string> = method === 'PUT' ? { 'content-length': '0' } : {};
    return digestRequest({ ...this.#http(signal), url: this.#base + suffix, method, headers });
  }

  #error(res: DigestResponse, doing: string): DeviceError {
    const xml = res.body.toString('utf8');
    const rs = xmlRoot(xml) === 'ResponseStatus';
    const sub = rs ? (xmlText(xml, 'subStatusCode') ?? '') : '';
    const statusCode = rs ? xmlText(xml, 'statusCode') : undefined;
    const code: DeviceErrorCode =
      SUB_STATUS[sub] ??
      (statusCode === '2'
        ? 'busy' // "Device Busy"
        : res.status === 401 || (res.status === 403 && !rs)
          ? 'auth'
          : res.status === 404
            ? 'not_found'
            : res.status === 405 || res.status === 501
              ? 'unsupported'
              : res.status < 300 && !rs
                ? 'protocol'
                : 'rejected');
    const said = rs ? ` ${xmlText(xml, 'statusString') ?? ''} (${sub || `statusCode ${statusCode}`})` : '';
    return new DeviceError(code, this.id, `${doing}: HTTP ${res.status}${said}`);
  }
}

/** 2xx and, if the body is a ResponseStatus, statusCode 0 or 1 ("OK"). */
function accepted(res: DigestResponse): boolean {
  if (res.status < 200 || res.status >= 300) return false;
  const xml = res.body.toString('utf8');
  if (xmlRoot(xml) !== 'ResponseStatus') return true;
  const code = xmlText(xml, 'statusCode');
  return code === undefined || code === '0' || code === '1';
}

export function createIsapiSpeaker(url: string, options?: IsapiSpeakerOptions): IsapiSpeaker {
  return new IsapiSpeaker(url, options);
}
