/**
 * SIP over UDP to one next hop (RFC 3261 section 17): client transactions with their
 * retransmission timers, answers to the few requests a speaker may send us (BYE, OPTIONS),
 * and the ACK that a non-2xx final answer to an INVITE needs. The socket is connected to
 * the next hop, so an ICMP error (speaker off, port closed) surfaces at once.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { randomBytes } from 'node:crypto';
import { DeviceError, fromSocketError } from '../../errors.ts';
import { Headers, parseCSeq, parseMessage, parseVia, writeMessage, type SipMessage } from './message.ts';

export const T1 = 500;
export const T2 = 4000;

export const newBranch = () => `z9hG4bK${randomBytes(8).toString('hex')}`;
export const newTag = () => randomBytes(6).toString('hex');

interface Pending {
  request: SipMessage;
  method: string;
  provisional?: SipMessage;
  onProvisional?: (res: SipMessage) => void;
  resolve: (res: SipMessage) => void;
  reject: (e: unknown) => void;
  timers: NodeJS.Timeout[];
}

export interface RequestOptions {
  /** Stop waiting for any answer after this long (Timer B / F); default 64*T1. */
  noAnswerMs?: number;
  onProvisional?: (res: SipMessage) => void;
}

export class SipFlow {
  readonly local: { ip: string; port: number };
  readonly peer: { ip: string; port: number };
  /** In-dialog requests from the far end (BYE, OPTIONS, re-INVITE); the flow answers them. */
  onRequest: (req: SipMessage) => number = () => 501;
  /** Responses no transaction claims: retransmitted 2xx to an INVITE we already ACKed. */
  onStray: (res: SipMessage) => void = () => undefined;
  readonly #sock: Socket;
  readonly #device: string;
  readonly #pending = new Map<string, Pending>();
  #error: DeviceError | undefined;

  private constructor(sock: Socket, device: string) {
    this.#sock = sock;
    this.#device = device;
    const a = sock.address();
    const r = sock.remoteAddress();
    this.local = { ip: a.address, port: a.port };
    this.peer = { ip: r.address, port: r.port };
    sock.on('message', (buf) => this.#receive(buf));
    sock.on('error', (e) => this.#fail(fromSocketError(this.#device, e)));
  }

  static async open(host: string, port: number, device: string): Promise<SipFlow> {
    let ip = host;
    try {
      if (!isIP(host)) ip = (await lookup(host, { family: 4 })).address;
    } catch (e) {
      throw fromSocketError(device, e);
    }
    const sock = createSocket('udp4');
    try {
      await new Promise<void>((ok, fail) => {
        sock.once('error', fail);
        sock.bind(0, () => sock.connect(port, ip, () => (sock.off('error', fail), ok())));
      });
    } catch (e) {
      sock.close();
      throw fromSocketError(device, e);
    }
    return new SipFlow(sock, device);
  }

  /** A Via for a new client transaction from this flow. */
  via(branch = newBranch()): string {
    return `SIP/2.0/UDP ${this.local.ip}:${this.local.port};branch=${branch};rport`;
  }

  send(m: SipMessage): void {
    if (this.#error) throw this.#error;
    this.#sock.send(writeMessage(m), (err) => err && this.#fail(fromSocketError(this.#device, err)));
  }

  /** Runs one client transaction; resolves with its final answer. */
  request(req: SipMessage, o: RequestOptions = {}): Promise<SipMessage> {
    const branch = parseVia(req.headers.get('Via') ?? '').params.branch;
    const method = req.method!;
    const key = `${branch} ${method}`;
    return new Promise((resolve, reject) => {
      if (this.#error) return reject(this.#error);
      const p: Pending = { request: req, method, onProvisional: o.onProvisional, resolve, reject, timers: [] };
      this.#pending.set(key, p);
      const invite = method === 'INVITE';
      const retransmit = (interval: number) => {
        p.timers.push(
          setTimeout(() => {
            if (!this.#pending.has(key) || (invite && p.provisional)) return;
            this.#safeSend(req);
            // INVITE doubles without a cap until an answer; others cap at T2, and at T2 once proceeding.
            retransmit(invite ? interval * 2 : Math.min(p.provisional ? T2 : interval * 2, T2));
          }, interval),
        );
      };
      this.#safeSend(req);
      retransmit(T1);
      const noAnswer = o.noAnswerMs ?? 64 * T1;
      p.timers.push(
        setTimeout(() => {
          if (p.provisional && invite) return; // ringing: the caller's ring timer decides
          this.#settle(
            key,
            new DeviceError('timeout', this.#device, `no answer to ${method} from ${this.peer.ip}:${this.peer.port} within ${noAnswer} ms`),
          );
        }, noAnswer),
      );
    });
  }

  #safeSend(m: SipMessage): void {
    try {
      this.send(m);
    } catch {
      /* #fail has settled every transaction */
    }
  }

  #settle(key: string, result: SipMessage | Error): void {
    const p = this.#pending.get(key);
    if (!p) return;
    this.#pending.delete(key);
    for (const t of p.timers) clearTimeout(t);
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
  }

  #fail(e: DeviceError): void {
    this.#error ??= e;
    for (const key of [...this.#pending.keys()]) this.#settle(key, e);
  }

  #receive(buf: Buffer): void {
    let m: SipMessage;
    try {
      m = parseMessage(buf);
    } catch {
      return; // keep-alives and garbage: a UA ignores what it cannot parse
    }
    if (m.method) return this.#answer(m);
    const branch = parseVia(m.headers.get('Via') ?? 'SIP/2.0/UDP x').params.branch;
    const cseq = parseCSeq(m.headers.get('CSeq'));
    const key = `${branch} ${cseq?.method}`;
    const p = this.#pending.get(key);
    if (!p) return this.onStray(m);
    const status = m.status!;
    if (status < 200) {
      p.provisional = m;
      p.onProvisional?.(m);
      return;
    }
    if (p.method === 'INVITE' && status >= 300) this.#safeSend(this.ackFor(p.request, m));
    this.#settle(key, m);
  }

  /** The ACK of a non-2xx final answer: part of the INVITE transaction, same branch (17.1.1.3). */
  ackFor(invite: SipMessage, res: SipMessage): SipMessage {
    const h = new Headers([
      ['Via', invite.headers.get('Via')!],
      ['Max-Forwards', '70'],
      ['From', invite.headers.get('From')!],
      ['To', res.headers.get('To')!],
      ['Call-ID', invite.headers.get('Call-ID')!],
      ['CSeq', `${parseCSeq(invite.headers.get('CSeq'))!.seq} ACK`],
    ]);
    for (const r of invite.headers.all('Route', false)) h.add('Route', r);
    return { method: 'ACK', uri: invite.uri, headers: h, body: Buffer.alloc(0) };
  }

  #answer(req: SipMessage): void {
    if (req.method === 'ACK') return;
    const status = this.onRequest(req);
    const h = new Headers();
    for (const v of req.headers.all('Via', false)) h.add('Via', v);
    for (const k of ['From', 'To', 'Call-ID', 'CSeq']) {
      const v = req.headers.get(k);
      if (v !== undefined) h.add(k, k === 'To' && !/;\s*tag=/i.test(v) ? `${v};tag=${newTag()}` : v);
    }
    this.#safeSend({
      status,
      reason: status === 200 ? 'OK' : status === 481 ? 'Call/Transaction Does Not Exist' : 'Not Implemented',
      headers: h,
      body: Buffer.alloc(0),
    });
  }

  close(): void {
    this.#fail(new DeviceError('unreachable', this.#device, 'SIP flow closed'));
    try {
      this.#sock.close();
    } catch {
      /* already closed */
    }
  }
}
