/**
 * A SIP speaker or paging adapter as a speaker: call its auto-answer extension, stream
 * the message as G.711 RTP at real-time pace to the address its SDP answer names, hang up.
 *
 * Config: sip:8001@192.168.1.50[:5060]          peer to peer, straight to the speaker
 *         sip:8001@pbx.local  + username/password a registrar-protected PBX (401/407 Digest)
 */
import { createSocket, type Socket } from 'node:dgram';
import { OneAtATime } from '../one-at-a-time.ts';
import { DeviceError, fromSocketError } from '../../errors.ts';
import type { Audio, AudioCodec, PlayResult, SpeakerDriver } from '../types.ts';
import { audioOffer, g711Of, parseSdp, type SdpMedia } from '../sdp.ts';
import { streamRtp } from '../rtp/stream.ts';
import { parseSipUri, type SipUri } from './message.ts';
import { SipFlow, newBranch } from './transport.ts';
import { SipCall } from './call.ts';
import { Headers } from './message.ts';

export interface SipSpeakerOptions {
  id?: string;
  /** The law to prefer in the offer; both are offered, and the answer decides. */
  codec?: 'pcma' | 'pcmu';
  /** Digest credentials, for a PBX or a speaker that challenges the INVITE. */
  username?: string;
  password?: string;
  /** How long the speaker may ring before we CANCEL; auto-answer takes well under a second. */
  ringMs?: number;
  /** How long an INVITE may go without any answer at all (retransmitting meanwhile). */
  noAnswerMs?: number;
  ptimeMs?: number;
  /** SDP direction we offer. sendrecv by default: baresip 1.0 (inside some paging adapters) accepts sendonly but then plays nothing. */
  direction?: 'sendonly' | 'sendrecv';
}

export class SipSpeaker implements SpeakerDriver {
  readonly id: string;
  readonly codecs: readonly AudioCodec[];
  readonly #uri: string;
  readonly #target: SipUri;
  readonly #o: Required<Omit<SipSpeakerOptions, 'id' | 'username' | 'password' | 'codec'>> &
    Pick<SipSpeakerOptions, 'username' | 'password'>;
  readonly #one: OneAtATime;

  constructor(url: string, options: SipSpeakerOptions = {}) {
    const clean = url.replace(/^sips?:\/\//i, 'sip:');
    let target: SipUri;
    try {
      target = parseSipUri(clean);
    } catch {
      throw new DeviceError('unsupported', options.id ?? url, `not a sip: URL (${url}); e.g. sip:8001@192.168.1.50`);
    }
    this.id = options.id ?? `sip:${target.user ? `${target.user}@` : ''}${target.host}`;
    this.#one = new OneAtATime(this.id);
    if (target.params.transport && target.params.transport.toLowerCase() !== 'udp')
      throw new DeviceError('unsupported', this.id, `transport=${target.params.transport}: only UDP is supported`);
    this.#target = target;
    // The password never travels in the Request-URI.
    this.#uri = `sip:${target.user ? `${encodeURIComponent(target.user)}@` : ''}${target.host.includes(':') ? `[${target.host}]` : target.host}${target.port ? `:${target.port}` : ''}`;
    const codec = options.codec ?? 'pcma';
    this.codecs = codec === 'pcma' ? ['pcma', 'pcmu'] : ['pcmu', 'pcma'];
    this.#o = {
      ringMs: 15_000,
      noAnswerMs: 8_000,
      ptimeMs: 20,
      direction: 'sendrecv',
      ...options,
      username: options.username ?? (target.password !== undefined ? target.user : undefined),
      password: options.password ?? target.password,
    };
  }

  /** SIP OPTIONS: any answer, even 4xx, means the device is there and speaks SIP. */
  async probe(signal?: AbortSignal): Promise<string> {
    const flow = await SipFlow.open(this.#target.host, this.#target.port ?? 5060, this.id);
    try {
      const h = new Headers([
        ['Via', flow.via(newBranch())],
        ['Max-Forwards', '70'],
        ['From', `<sip:gateway@${flow.local.ip}>;tag=${newBranch().slice(7, 15)}`],
        ['To', `<${this.#uri}>`],
        ['Call-ID', `${newBranch().slice(7)}@${flow.local.ip}`],
        ['CSeq', '1 OPTIONS'],
        ['Accept', 'application/sdp'],
      ]);
      signal?.throwIfAborted();
      const res = await flow.request({ method: 'OPTIONS', uri: this.#uri, headers: h, body: Buffer.alloc(0) }, { noAnswerMs: 4000 });
      return `SIP ${res.status} ${res.reason ?? ''}`.trim();
    } finally {
      flow.close();
    }
  }

  async play(audio: Audio, signal?: AbortSignal): Promise<PlayResult> {
    if ((audio.codec !== 'pcma' && audio.codec !== 'pcmu') || audio.sampleRate !== 8000)
      throw new DeviceError('unsupported', this.id, `SIP speakers take 8 kHz G.711 here, not ${audio.codec} at ${audio.sampleRate} Hz`);
    return this.#one.run(signal, (sig) => this.#play(audio, sig));
  }

  async #play(audio: Audio, signal: AbortSignal): Promise<PlayResult> {
    const flow = await SipFlow.open(this.#target.host, this.#target.port ?? 5060, this.id);
    let rtp: Socket | undefined;
    let call: SipCall | undefined;
    try {
      rtp = await bindRtp(flow.local.ip, this.id);
      const { port } = rtp.address();
      const sdp = audioOffer({
        address: flow.local.ip,
        port,
        codecs: [audio.codec, ...this.codecs.filter((c) => c !== audio.codec)] as ('pcma' | 'pcmu')[],
        ptimeMs: this.#o.ptimeMs,
        direction: this.#o.direction,
        sessionId: String(Date.now()),
      });
      const from = this.#o.username ? `sip:${encodeURIComponent(this.#o.username)}@${this.#target.host}` : `sip:gateway@${flow.local.ip}`;
      call = new SipCall(flow, {
        target: this.#uri,
        from,
        user: this.#o.username,
        password: this.#o.password,
        sdp,
        ringMs: this.#o.ringMs,
        noAnswerMs: this.#o.noAnswerMs,
        userAgent: 'township-gateway',
        device: this.id,
        signal,
      });
      const answer = await call.invite();
      const media = this.#media(answer.body.toString('utf8'));
      const hangup = new AbortController();
      let why = '';
      call.onHangUp((w) => ((why = w), hangup.abort()));
      const sock = rtp;
      let sockError: unknown;
      sock.on('error', (e) => (sockError = e));
      const started = performance.now();
      try {
        const r = await streamRtp(
          audio,
          (pkt) => {
            if (sockError) throw fromSocketError(this.id, sockError);
            return new Promise<void>((ok, fail) =>
              sock.send(pkt, media.port, media.address, (e) => (e ? fail(fromSocketError(this.id, e)) : ok())),
            );
          },
          { codec: media.codec, payloadType: media.pt, ptimeMs: media.ptimeMs, signal: AbortSignal.any([signal, hangup.signal]) },
        );
        const bye = await call.bye().catch((e: Error) => `BYE failed: ${e.message}`);
        const byeText = typeof bye === 'string' ? bye : bye ? `BYE ${bye.status}` : 'no BYE';
        return {
          sentMs: r.sentMs,
          bytes: r.bytes,
          detail: `sip ${media.codec} to ${media.address}:${media.port}, call ${call.callId}, ${byeText}`,
        };
      } catch (e) {
        if (hangup.signal.aborted && !signal.aborted)
          throw new DeviceError(
            'rejected',
            this.id,
            `${why} after ${((performance.now() - started) / 1000).toFixed(1)} s of ${(audio.durationMs / 1000).toFixed(1)} s`,
          );
        throw e;
      }
    } catch (e) {
      if (call && !call.remoteBye) await call.bye().catch(() => undefined);
      throw e;
    } finally {
      rtp?.close();
      flow.close();
    }
  }

  /** The audio section of the answer: where to send and in which law. */
  #media(text: string): { address: string; port: number; codec: 'pcma' | 'pcmu'; pt: number; ptimeMs: number } {
    const sdp = parseSdp(text);
    const m: SdpMedia | undefined = sdp.media.find((x) => x.type === 'audio' && x.port > 0);
    if (!m) throw new DeviceError('unsupported', this.id, `the answer accepts no audio stream${text ? '' : ' (no SDP)'}`);
    if (m.direction === 'sendonly' || m.direction === 'inactive')
      throw new DeviceError('unsupported', this.id, `the answer sets audio ${m.direction}: the speaker will not play`);
    const pt = m.formats.find((f) => g711Of(m, f));
    if (!pt) throw new DeviceError('unsupported', this.id, `the answer picks no G.711 codec (${m.formats.join(' ')})`);
    if (!m.address || m.address === '0.0.0.0') throw new DeviceError('protocol', this.id, 'the answer gives no media address');
    return {
      address: m.address,
      port: m.port,
      codec: g711Of(m, pt)!,
      pt: Number(pt),
      ptimeMs: m.ptime && m.ptime >= 10 && m.ptime <= 60 ? m.ptime : this.#o.ptimeMs,
    };
  }

  close(): Promise<void> {
    return this.#one.stop();
  }
}

/** An even port for RTP, as RFC 3550 recommends (some speakers insist). */
async function bindRtp(ip: string, device: string): Promise<Socket> {
  for (let i = 0; i < 20; i++) {
    const s = createSocket('udp4');
    try {
      await new Promise<void>((ok, fail) => (s.once('error', fail), s.bind(0, ip, () => (s.off('error', fail), ok()))));
    } catch (e) {
      s.close();
      throw fromSocketError(device, e);
    }
    if (s.address().port % 2 === 0) return s;
    s.close();
  }
  throw new DeviceError('unreachable', device, 'no even local port for RTP');
}

export function createSipSpeaker(url: string, options?: SipSpeakerOptions): SipSpeaker {
  return new SipSpeaker(url, options);
}
