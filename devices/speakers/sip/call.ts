/**
 * One SIP call from the gateway to a speaker (RFC 3261): INVITE with an SDP offer, answer
 * a Digest challenge (401/407) once, ring for a bounded time, ACK the 2xx, and later BYE.
 * CANCEL stops a call that is still ringing. The media is the driver's business.
 */
import { randomBytes } from 'node:crypto';
import { DeviceError, type DeviceErrorCode } from '../../errors.ts';
import { digestAuthorization, parseChallenges, pickChallenge } from '../../http/challenge.ts';
import { Headers, parseCSeq, parseNameAddr, type SipMessage } from './message.ts';
import { T1, newBranch, newTag, type SipFlow } from './transport.ts';

export interface CallOptions {
  target: string; // Request-URI
  from: string; // our address-of-record
  user?: string;
  password?: string;
  sdp: string;
  ringMs: number;
  noAnswerMs: number;
  userAgent: string;
  device: string;
  signal?: AbortSignal;
}

/** Final answers worth their own code; the rest of 4xx-6xx are 'rejected'. */
const STATUS_CODE: Record<number, DeviceErrorCode> = {
  401: 'auth',
  403: 'auth',
  407: 'auth',
  404: 'not_found',
  604: 'not_found',
  484: 'not_found',
  410: 'not_found',
  486: 'busy',
  600: 'busy',
  482: 'busy',
  488: 'unsupported',
  606: 'unsupported',
  415: 'unsupported',
  405: 'unsupported',
  501: 'unsupported',
  420: 'unsupported',
  408: 'timeout',
  480: 'unreachable',
  503: 'unreachable',
  502: 'unreachable',
  504: 'timeout',
};

export function errorForStatus(device: string, res: SipMessage, doing: string): DeviceError {
  const code = STATUS_CODE[res.status!] ?? 'rejected';
  return new DeviceError(code, device, `${doing}: SIP ${res.status} ${res.reason ?? ''}`.trim());
}

export class SipCall {
  readonly callId: string;
  readonly #o: CallOptions;
  readonly #flow: SipFlow;
  readonly #fromTag = newTag();
  #cseq = 1;
  #ack?: SipMessage;
  #dialog?: { toHeader: string; remoteTarget: string; routes: string[] };
  #hungUp?: (why: string) => void;
  /** Set when the far end hung up first. */
  remoteBye = false;

  constructor(flow: SipFlow, o: CallOptions) {
    this.#flow = flow;
    this.#o = o;
    this.callId = `${randomBytes(10).toString('hex')}@${flow.local.ip}`;
    flow.onStray = (res) => {
      // A 2xx retransmitted because our ACK was lost: ACK again (13.2.2.4).
      if (res.status! >= 200 && res.status! < 300 && parseCSeq(res.headers.get('CSeq'))?.method === 'INVITE' && this.#ack)
        flow.send(this.#ack);
    };
    flow.onRequest = (req) => {
      if (req.headers.get('Call-ID') !== this.callId) return 481;
      if (req.method === 'BYE') {
        this.remoteBye = true;
        this.#hungUp?.('the speaker hung up');
        return 200;
      }
      return req.method === 'OPTIONS' ? 200 : 501;
    };
  }

  /** Resolves once the far end hangs up (BYE); used to stop the media early. */
  onHangUp(fn: (why: string) => void): void {
    this.#hungUp = fn;
  }

  #headers(method: string, cseq: number, branch = newBranch()): Headers {
    return new Headers([
      ['Via', this.#flow.via(branch)],
      ['Max-Forwards', '70'],
      ['From', `"Gateway" <${this.#o.from}>;tag=${this.#fromTag}`],
      ['To', this.#dialog?.toHeader ?? `<${this.#o.target}>`],
      ['Call-ID', this.callId],
      ['CSeq', `${cseq} ${method}`],
      ['User-Agent', this.#o.userAgent],
    ]);
  }

  /** Places the call; resolves with the 2xx answer (already ACKed), or throws a DeviceError. */
  async invite(): Promise<SipMessage> {
    let authorization: [string, string] | undefined;
    for (let attempt = 0; ; attempt++) {
      const h = this.#headers('INVITE', this.#cseq);
      h.add('Contact', `<sip:gateway@${this.#flow.local.ip}:${this.#flow.local.port}>`);
      h.add('Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS');
      h.add('Content-Type', 'application/sdp');
      if (authorization) h.add(authorization[0], authorization[1]);
      const req: SipMessage = { method: 'INVITE', uri: this.#o.target, headers: h, body: Buffer.from(this.#o.sdp) };
      const res = await this.#ring(req);
      if (res.status === 401 || res.status === 407) {
        const doing = attempt === 0 ? 'INVITE needs credentials' : 'credentials refused';
        if (attempt > 0 || this.#o.user === undefined)
          throw errorForStatus(this.#o.device, res, this.#o.user === undefined ? `${doing} and none are configured` : doing);
        authorization = this.#authorize(res, 'INVITE', this.#o.target);
        this.#cseq++;
        continue;
      }
      if (res.status! >= 300) throw errorForStatus(this.#o.device, res, 'call refused');
      this.#established(res);
      return res;
    }
  }

  #authorize(res: SipMessage, method: string, uri: string): [string, string] {
    const proxy = res.status === 407;
    const challenge = pickChallenge(parseChallenges(res.headers.all(proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate', false)));
    if (challenge?.scheme !== 'digest')
      throw new DeviceError('auth', this.#o.device, `SIP ${res.status} with no Digest challenge we can answer`);
    const value = digestAuthorization({ user: this.#o.user ?? '', password: this.#o.password ?? '', method, uri, challenge, nc: 1 });
    return [proxy ? 'Proxy-Authorization' : 'Authorization', value];
  }

  /** Sends the INVITE and waits for its final answer, cancelling on ring timeout or abort. */
  #ring(req: SipMessage): Promise<SipMessage> {
    const { signal, ringMs } = this.#o;
    return new Promise((resolve, reject) => {
      let provisional = false;
      let cancelWhy: DeviceError | Error | undefined;
      let ringTimer: NodeJS.Timeout | undefined;
      const cancel = (why: DeviceError | Error) => {
        if (cancelWhy) return;
        cancelWhy = why;
        if (provisional) this.#cancel(req);
        // Without a provisional answer CANCEL must wait (9.1); give the INVITE a short while.
        else setTimeout(() => reject(why), 2 * T1).unref();
      };
      const onAbort = () => cancel(signal!.reason instanceof Error ? signal!.reason : new DOMException('aborted', 'AbortError'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => (clearTimeout(ringTimer), signal?.removeEventListener('abort', onAbort));
      if (signal?.aborted) return (done(), reject(signal.reason));
      this.#flow
        .request(req, {
          noAnswerMs: this.#o.noAnswerMs,
          onProvisional: () => {
            if (provisional) return;
            provisional = true;
            if (cancelWhy) return this.#cancel(req);
            ringTimer = setTimeout(
              () =>
                cancel(
                  new DeviceError('timeout', this.#o.device, `rang for ${Math.round(ringMs / 1000)} s, no answer (is auto-answer on?)`),
                ),
              ringMs,
            );
          },
        })
        .then(
          (res) => {
            done();
            if (!cancelWhy) return resolve(res);
            // Answered as we cancelled: take the call down again (9.1, 15).
            if (res.status! < 300) {
              this.#established(res);
              void this.bye().catch(() => undefined);
            }
            reject(cancelWhy);
          },
          (e: unknown) => (done(), reject(cancelWhy ?? e)),
        );
    });
  }

  #cancel(invite: SipMessage): void {
    const h = new Headers([
      ['Via', invite.headers.get('Via')!],
      ['Max-Forwards', '70'],
      ['From', invite.headers.get('From')!],
      ['To', invite.headers.get('To')!],
      ['Call-ID', this.callId],
      ['CSeq', `${parseCSeq(invite.headers.get('CSeq'))!.seq} CANCEL`],
    ]);
    void this.#flow
      .request({ method: 'CANCEL', uri: invite.uri, headers: h, body: Buffer.alloc(0) }, { noAnswerMs: 4000 })
      .catch(() => undefined);
  }

  #established(res: SipMessage): void {
    const contact = res.headers.all('Contact')[0];
    this.#dialog = {
      toHeader: res.headers.get('To')!,
      remoteTarget: contact ? parseNameAddr(contact).uri : this.#o.target,
      routes: res.headers.all('Record-Route').reverse(),
    };
    const h = this.#headers('ACK', this.#cseq);
    for (const r of this.#dialog.routes) h.add('Route', r);
    this.#ack = { method: 'ACK', uri: this.#dialog.remoteTarget, headers: h, body: Buffer.alloc(0) };
    this.#flow.send(this.#ack);
  }

  /** Hangs up an established call; answers a challenge once, as PBXs may challenge BYE too. */
  async bye(): Promise<SipMessage | undefined> {
    if (!this.#dialog || this.remoteBye) return undefined;
    const dialog = this.#dialog;
    let authorization: [string, string] | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const h = this.#headers('BYE', ++this.#cseq);
      for (const r of dialog.routes) h.add('Route', r);
      if (authorization) h.add(authorization[0], authorization[1]);
      const res = await this.#flow.request(
        { method: 'BYE', uri: dialog.remoteTarget, headers: h, body: Buffer.alloc(0) },
        { noAnswerMs: 8 * T1 },
      );
      if ((res.status === 401 || res.status === 407) && attempt === 0 && this.#o.user !== undefined) {
        authorization = this.#authorize(res, 'BYE', dialog.remoteTarget);
        continue;
      }
      return res;
    }
    return undefined;
  }
}
