/**
 * An RTSP/1.0 connection (RFC 2326) for the ONVIF audio backchannel: requests with CSeq,
 * Digest or Basic answers to 401, and RTP sent interleaved on the same TCP connection
 * (`$`, channel, 16-bit length). Whatever the camera interleaves towards us (RTCP, its
 * own audio) is read and dropped so the connection never stalls.
 */
import net from 'node:net';
import { DeviceError, fromSocketError } from '../../errors.ts';
import { basicAuthorization, digestAuthorization, parseChallenges, pickChallenge, type Challenge } from '../../http/challenge.ts';

export interface RtspResponse {
  status: number;
  reason: string;
  headers: Map<string, string>; // lower-case names
  body: Buffer;
}

export class RtspConnection {
  readonly #sock: net.Socket;
  readonly #device: string;
  readonly #timeoutMs: number;
  #cseq = 0;
  #buf: Buffer = Buffer.alloc(0);
  #waiting?: { cseq: number; ok: (r: RtspResponse) => void; fail: (e: unknown) => void; timer: NodeJS.Timeout };
  #error?: DeviceError;
  #auth?: { challenge: Challenge; nc: number };
  user?: string;
  password?: string;
  session?: string;

  private constructor(sock: net.Socket, device: string, timeoutMs: number) {
    this.#sock = sock;
    this.#device = device;
    this.#timeoutMs = timeoutMs;
    sock.on('data', (d) => this.#data(d));
    sock.on('error', (e) => this.#fail(fromSocketError(device, e)));
    sock.on('close', () => this.#fail(new DeviceError('unreachable', device, 'the camera closed the RTSP connection')));
  }

  static connect(host: string, port: number, device: string, timeoutMs: number, signal?: AbortSignal): Promise<RtspConnection> {
    return new Promise((ok, fail) => {
      const sock = net.connect({ host, port, noDelay: true });
      const t = setTimeout(
        () => (sock.destroy(), fail(new DeviceError('timeout', device, `no RTSP connection to ${host}:${port} within ${timeoutMs} ms`))),
        timeoutMs,
      );
      const onAbort = () => (sock.destroy(), clearTimeout(t), fail(signal!.reason));
      signal?.addEventListener('abort', onAbort, { once: true });
      sock.once('error', (e) => (clearTimeout(t), signal?.removeEventListener('abort', onAbort), fail(fromSocketError(device, e))));
      sock.once('connect', () => {
        clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        sock.removeAllListeners('error');
        ok(new RtspConnection(sock, device, timeoutMs));
      });
    });
  }

  /** One request; a 401 is answered once with the strongest challenge offered. */
  async request(method: string, url: string, headers: Record<string, string> = {}): Promise<RtspResponse> {
    for (let attempt = 0; ; attempt++) {
      const h: Record<string, string> = { ...headers, 'User-Agent': 'township-gateway' };
      if (this.session) h.Session = this.session;
      if (this.#auth && this.user !== undefined) {
        const { challenge } = this.#auth;
        h.Authorization =
          challenge.scheme === 'basic'
            ? basicAuthorization(this.user, this.password ?? '')
            : digestAuthorization({ user: this.user, password: this.password ?? '', method, uri: url, challenge, nc: ++this.#auth.nc });
      }
      const res = await this.#send(method, url, h);
      if (res.status !== 401) return res;
      if (this.user === undefined)
        throw new DeviceError('auth', this.#device, `${method}: RTSP 401, the camera needs credentials and none are configured`);
      const challenge = pickChallenge(parseChallenges(res.headers.get('www-authenticate')?.split(/\n/) ?? []));
      const stale = challenge?.params.stale?.toLowerCase() === 'true';
      if (!challenge || (attempt > 0 && !stale) || attempt > 2)
        throw new DeviceError('auth', this.#device, `${method}: RTSP 401, credentials refused`);
      this.#auth = { challenge, nc: 0 };
    }
  }

  #send(method: string, url: string, headers: Record<string, string>): Promise<RtspResponse> {
    if (this.#error) return Promise.reject(this.#error);
    const cseq = ++this.#cseq;
    const lines = [`${method} ${url} RTSP/1.0`, `CSeq: ${cseq}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    return new Promise((ok, fail) => {
      const timer = setTimeout(
        () => this.#fail(new DeviceError('timeout', this.#device, `no answer to RTSP ${method} within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      this.#waiting = { cseq, ok, fail, timer };
      this.#sock.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  }

  /** Writes one RTP packet as an interleaved frame; waits when the socket buffer is full. */
  interleave(channel: number, packet: Buffer): Promise<void> | void {
    if (this.#error) throw this.#error;
    const head = Buffer.from([0x24, channel, packet.length >> 8, packet.length & 0xff]);
    if (this.#sock.write(Buffer.concat([head, packet]))) return;
    return new Promise((ok) => this.#sock.once('drain', ok));
  }

  #data(d: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    for (;;) {
      if (this.#buf.length === 0) return;
      if (this.#buf[0] === 0x24) {
        if (this.#buf.length < 4) return;
        const len = this.#buf.readUInt16BE(2);
        if (this.#buf.length < 4 + len) return;
        this.#buf = this.#buf.subarray(4 + len); // RTCP receiver reports, the camera's audio: not ours to keep
        continue;
      }
      const end = this.#buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.#buf.length > 65536) this.#fail(new DeviceError('protocol', this.#device, 'RTSP header too long'));
        return;
      }
      const lines = this.#buf.subarray(0, end).toString('utf8').split('\r\n');
      const headers = new Map<string, string>();
      for (const l of lines.slice(1)) {
        const c = l.indexOf(':');
        if (c <= 0) continue;
        const k = l.slice(0, c).trim().toLowerCase();
        const v = l.slice(c + 1).trim();
        headers.set(k, headers.has(k) ? `${headers.get(k)}\n${v}` : v);
      }
      const len = Number(headers.get('content-length') ?? 0);
      if (this.#buf.length < end + 4 + len) return;
      const body = this.#buf.subarray(end + 4, end + 4 + len);
      this.#buf = this.#buf.subarray(end + 4 + len);
      const m = /^RTSP\/1\.\d\s+(\d{3})\s*(.*)$/.exec(lines[0]);
      if (!m) continue; // a request from the camera (ANNOUNCE, GET_PARAMETER): ignore
      const w = this.#waiting;
      if (!w || Number(headers.get('cseq')) !== w.cseq) continue;
      this.#waiting = undefined;
      clearTimeout(w.timer);
      w.ok({ status: Number(m[1]), reason: m[2], headers, body: Buffer.from(body) });
    }
  }

  #fail(e: DeviceError): void {
    this.#error ??= e;
    const w = this.#waiting;
    this.#waiting = undefined;
    if (w) clearTimeout(w.timer), w.fail(e);
  }

  close(): void {
    this.#fail(new DeviceError('unreachable', this.#device, 'RTSP connection closed'));
    this.#sock.destroy();
  }
}
