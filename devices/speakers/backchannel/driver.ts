/**
 * An ONVIF camera's built-in speaker as a speaker (ONVIF Streaming Specification, section
 * 5.3 "Back channel connection"): DESCRIBE with `Require: www.onvif.org/ver20/backchannel`,
 * pick the audio track the camera marks `a=sendonly` (directions are from the client's side),
 * SETUP it over the RTSP connection (interleaved), PLAY, send G.711 RTP at real-time pace,
 * TEARDOWN.
 *
 * Config: rtsp://user:pass@192.168.1.64:554/path   the camera's RTSP URL (any profile with audio)
 */
import { OneAtATime } from '../one-at-a-time.ts';
import { DeviceError } from '../../errors.ts';
import type { Audio, AudioCodec, PlayResult, SpeakerDriver } from '../types.ts';
import { g711Of, parseSdp, type SdpMedia } from '../sdp.ts';
import { streamRtp } from '../rtp/stream.ts';
import { RtspConnection, type RtspResponse } from './rtsp.ts';

export const BACKCHANNEL = 'www.onvif.org/ver20/backchannel';

export interface BackchannelOptions {
  id?: string;
  username?: string;
  password?: string;
  /** Per RTSP request and for connecting. */
  timeoutMs?: number;
  /** The law to prepare until a DESCRIBE has told us the camera's. */
  codec?: 'pcma' | 'pcmu';
}

export class BackchannelSpeaker implements SpeakerDriver {
  readonly id: string;
  readonly #url: URL;
  readonly #o: Required<Pick<BackchannelOptions, 'timeoutMs'>> & BackchannelOptions;
  #codecs: readonly AudioCodec[];
  readonly #one: OneAtATime;

  constructor(url: string, options: BackchannelOptions = {}) {
    const u = new URL(url);
    this.id = options.id ?? `rtsp://${u.host}${u.pathname}`;
    this.#one = new OneAtATime(this.id);
    if (u.protocol !== 'rtsp:') throw new DeviceError('unsupported', this.id, `expected an rtsp:// URL, got ${u.protocol}`);
    this.#o = {
      timeoutMs: 5000,
      ...options,
      username: options.username ?? (u.username ? decodeURIComponent(u.username) : undefined),
      password: options.password ?? decodeURIComponent(u.password),
    };
    u.username = u.password = '';
    this.#url = u;
    this.#codecs = [options.codec ?? 'pcmu'];
  }

  /** Known after probe() or a first play: the law of the camera's backchannel track. */
  get codecs(): readonly AudioCodec[] {
    return this.#codecs;
  }

  /** DESCRIBE only: is there a G.711 backchannel, and in which law. */
  async probe(signal?: AbortSignal): Promise<string> {
    const conn = await this.#connect(signal);
    try {
      const { media, pt } = await this.#describe(conn);
      return `backchannel ${media.rtpmap[pt] ?? `pt ${pt}`}`;
    } finally {
      conn.close();
    }
  }

  async play(audio: Audio, signal?: AbortSignal): Promise<PlayResult> {
    if ((audio.codec !== 'pcma' && audio.codec !== 'pcmu') || audio.sampleRate !== 8000)
      throw new DeviceError('unsupported', this.id, `the backchannel takes 8 kHz G.711 here, not ${audio.codec} at ${audio.sampleRate} Hz`);
    return this.#one.run(signal, (sig) => this.#play(audio, sig));
  }

  async #play(audio: Audio, sig: AbortSignal): Promise<PlayResult> {
    const conn = await this.#connect(sig);
    const onAbort = () => conn.close();
    try {
      const { media, pt, base } = await this.#describe(conn);
      const law = g711Of(media, pt)!;
      const control = resolveControl(base, media.control);
      const setup = await conn.request('SETUP', control, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1', Require: BACKCHANNEL });
      this.#check(setup, 'SETUP');
      conn.session = setup.headers.get('session')?.split(';')[0];
      const channel = Number(/interleaved=(\d+)/.exec(setup.headers.get('transport') ?? '')?.[1] ?? 0);
      this.#check(await conn.request('PLAY', base, { Range: 'npt=0.000-', Require: BACKCHANNEL }), 'PLAY');
      sig.addEventListener('abort', onAbort, { once: true });
      const r = await streamRtp(audio, (pkt) => conn.interleave(channel, pkt), { codec: law, payloadType: Number(pt), signal: sig });
      // Let the camera's jitter buffer drain before the session goes.
      await new Promise((res) => setTimeout(res, 100));
      const down = await conn.request('TEARDOWN', base, { Require: BACKCHANNEL }).then(
        (x) => `TEARDOWN ${x.status}`,
        (e: Error) => `TEARDOWN failed: ${e.message}`,
      );
      return { sentMs: r.sentMs, bytes: r.bytes, detail: `backchannel ${law} on ${control}, session ${conn.session ?? '-'}, ${down}` };
    } catch (e) {
      if (sig.aborted) throw sig.reason;
      throw e;
    } finally {
      sig.removeEventListener('abort', onAbort);
      conn.close();
    }
  }

  async #connect(signal?: AbortSignal): Promise<RtspConnection> {
    const conn = await RtspConnection.connect(this.#url.hostname, Number(this.#url.port || 554), this.id, this.#o.timeoutMs, signal);
    conn.user = this.#o.username;
    conn.password = this.#o.password;
    return conn;
  }

  async #describe(conn: RtspConnection): Promise<{ media: SdpMedia; pt: string; base: string }> {
    const res = await conn.request('DESCRIBE', this.#url.href, { Accept: 'application/sdp', Require: BACKCHANNEL });
    if (res.status === 551)
      throw new DeviceError('unsupported', this.id, 'the camera has no audio backchannel (RTSP 551 Option not supported)');
    this.#check(res, 'DESCRIBE');
    const sdp = parseSdp(res.body.toString('utf8'));
    const back = sdp.media.filter((m) => m.type === 'audio' && m.direction === 'sendonly');
    if (!back.length)
      throw new DeviceError(
        'unsupported',
        this.id,
        'the camera offers no backchannel track (no a=sendonly audio); is its speaker enabled?',
      );
    for (const media of back) {
      const pt = media.formats.find((f) => g711Of(media, f));
      if (pt) {
        this.#codecs = [g711Of(media, pt)!];
        const base = res.headers.get('content-base') ?? res.headers.get('content-location') ?? this.#url.href;
        return { media, pt, base: resolveControl(base, sdp.control && sdp.control !== '*' ? sdp.control : undefined) };
      }
    }
    throw new DeviceError(
      'unsupported',
      this.id,
      `the backchannel takes ${back.flatMap((m) => Object.values(m.rtpmap)).join(', ') || 'no codec we know'}, not G.711`,
    );
  }

  #check(res: RtspResponse, doing: string): void {
    if (res.status < 300) return;
    const code =
      res.status === 404
        ? 'not_found'
        : res.status === 403
          ? 'auth'
          : res.status === 453 || res.status === 503
            ? 'busy'
            : res.status === 461 || res.status === 551
              ? 'unsupported'
              : 'rejected';
    throw new DeviceError(code, this.id, `${doing}: RTSP ${res.status} ${res.reason}`);
  }

  close(): Promise<void> {
    return this.#one.stop();
  }
}

/** A track's control attribute against the session's base URL (RFC 2326 C.1.1). */
export function resolveControl(base: string, control?: string): string {
  if (!control || control === '*') return base.replace(/\/$/, '') || base;
  if (/^rtsp:\/\//i.test(control)) return control;
  return base.endsWith('/') ? base + control : `${base}/${control}`;
}

export function createBackchannelSpeaker(url: string, options?: BackchannelOptions): BackchannelSpeaker {
  return new BackchannelSpeaker(url, options);
}
