/**
 * One authenticated conversation with one ONVIF device, on top of the `onvif` package's
 * callback API. It owns three things the package leaves to its caller:
 *
 * - Promises that settle exactly once, whatever the package does (it can call a
 *   callback twice when its own parsing throws), with a hard deadline of our own.
 * - Authentication: first WS-UsernameToken (the package then also answers an HTTP Digest
 *   challenge), and on an auth failure once more with HTTP Digest alone, because some
 *   firmwares reject a Security header they cannot check instead of challenging.
 * - The device clock: WS-Security digests carry a timestamp the device compares with
 *   its own clock, so we read GetSystemDateAndTime first and stamp in device time.
 */
import onvif, { type Cam } from 'onvif';
import { DeviceError } from '../errors.ts';
import { faultError, packageError, readFault, statusError } from './faults.ts';
import { child, parseEnvelope, textAt, type XmlNode } from './xml.ts';

export type AuthMode = 'ws-security' | 'digest';

export interface Target {
  hostname: string;
  port: number;
  path: string;
  secure: boolean;
}

export interface Credentials {
  user?: string;
  password?: string;
}

type Callback = (err: Error | null, data?: unknown, xml?: string) => void;

export class OnvifSession {
  readonly device: string;
  readonly cam: Cam;
  /** The mode that last worked; locked once an authenticated call succeeded. */
  mode: AuthMode = 'ws-security';
  private modeLocked = false;
  /** Device clock minus ours, in ms (0 until syncClock ran). */
  clockOffsetMs = 0;
  private readonly timeoutMs: number;

  constructor(device: string, target: Target, creds: Credentials, timeoutMs: number) {
    this.device = device;
    this.timeoutMs = timeoutMs;
    // onvif is CommonJS; Node only sees its default export from ESM.
    this.cam = new onvif.Cam({
      hostname: target.hostname,
      port: target.port,
      path: target.path,
      useSecure: target.secure,
      // Cameras ship self-signed certificates; there is no CA to check them against.
      secureOpts: { rejectUnauthorized: false },
      username: creds.user || undefined,
      password: creds.password || undefined,
      timeout: timeoutMs,
      autoconnect: false,
      // Devices behind NAT, or with a second NIC, advertise service addresses we cannot
      // reach. We keep talking to the address we were given.
      preserveAddress: true,
    });
    // Before we know the device clock, stamp with ours: the package would otherwise
    // compute Created from process uptime alone (1970) when GetSystemDateAndTime itself
    // needs authentication (Panasonic, some Vivotek).
    this.setClock(0);
  }

  private setClock(offsetMs: number): void {
    this.clockOffsetMs = offsetMs;
    // The package stamps Created as process.uptime()*1000 + timeShift.
    this.cam.timeShift = Date.now() + offsetMs - process.uptime() * 1000;
  }

  /**
   * Runs one package call and returns the parsed response element `want` from the raw
   * answer. A package error is ignored when the wire carried a well-formed answer.
   */
  async call(action: string, want: string, invoke: (cb: Callback) => void, opts: { preAuth?: boolean } = {}): Promise<XmlNode> {
    // A call the device answers without credentials proves nothing about the mode.
    const lock = () => (this.modeLocked ||= !opts.preAuth);
    try {
      const body = await this.once(action, want, invoke);
      lock();
      return body;
    } catch (e) {
      if (!(e instanceof DeviceError) || e.code !== 'auth' || this.modeLocked || !this.cam.username) throw e;
      // One retry in the other mode, never more: Hikvision and Dahua lock an account
      // after a handful of failed logins.
      this.mode = this.mode === 'ws-security' ? 'digest' : 'ws-security';
      this.cam.useWSSecurity = this.mode === 'ws-security';
      try {
        const body = await this.once(action, want, invoke);
        lock();
        return body;
      } catch (e2) {
        lock();
        if (e2 instanceof DeviceError && e2.code === 'auth')
          throw new DeviceError(
            'auth',
            this.device,
            `credentials refused with WS-UsernameToken and with HTTP Digest (${e2.message.slice(this.device.length + 2)})`,
            { cause: e2 },
          );
        throw e2;
      }
    }
  }

  private once(action: string, want: string, invoke: (cb: Callback) => void): Promise<XmlNode> {
    let last: { xml: string; status: number } | undefined;
    const onRaw = (xml: string, status: number) => (last = { xml, status });
    this.cam.on('rawResponse', onRaw);
    const answer = new Promise<{ err: Error | null; xml?: string }>((resolve) => {
      // The package sets its own socket timeout; this one also covers a stalled body.
      const timer = setTimeout(() => resolve({ err: new Error('Network timeout') }), this.timeoutMs + 1000);
      try {
        invoke((err, _data, xml) => {
          clearTimeout(timer);
          resolve({ err, xml });
        });
      } catch (e) {
        clearTimeout(timer);
        resolve({ err: e as Error });
      }
    });
    return answer
      .then(async ({ err, xml }) => {
        const raw = last?.xml ?? xml;
        const status = last?.status;
        if (raw) {
          const env = await parseEnvelope(raw).catch(() => undefined);
          const found = env && child(env.body, want);
          if (found && (!status || status < 300)) return found;
          const fault = env && readFault(env.body);
          if (fault) throw faultError(this.device, action, fault, status);
        }
        if (status && status >= 300) throw statusError(this.device, action, status);
        if (err) throw packageError(this.device, action, err);
        throw new DeviceError('protocol', this.device, `${action}: answer without <${want}>`);
      })
      .finally(() => this.cam.removeListener('rawResponse', onRaw));
  }

  /**
   * GetSystemDateAndTime, then align our WS-Security timestamps with the device clock.
   * The package reads the time too, but only keeps it when it has none yet and reads
   * LocalDateTime as if it were UTC; we keep UTC, and fall back to our own clock.
   */
  async syncClock(): Promise<number> {
    const sentAt = Date.now();
    const res = await this.call('GetSystemDateAndTime', 'GetSystemDateAndTimeResponse', (cb) => this.cam.getSystemDateAndTime(cb), {
      preAuth: true,
    });
    const receivedAt = Date.now();
    const utc = child(child(res, 'SystemDateAndTime'), 'UTCDateTime');
    if (!utc) return this.clockOffsetMs; // no UTC clock given: keep ours (GWellTimes-like)
    const n = (...p: string[]) => Number(textAt(utc, ...p));
    const device = Date.UTC(
      n('Date', 'Year'),
      n('Date', 'Month') - 1,
      n('Date', 'Day'),
      n('Time', 'Hour'),
      n('Time', 'Minute'),
      n('Time', 'Second'),
    );
    if (!Number.isFinite(device)) return this.clockOffsetMs;
    // The device truncates to whole seconds; aim at the middle of that second and of our round trip.
    this.setClock(device + 500 - (sentAt + receivedAt) / 2);
    return this.clockOffsetMs;
  }

  close(): void {
    this.cam.removeAllListeners();
  }
}
