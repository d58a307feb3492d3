/**
 * Turns what the `onvif` package reports (plain Errors with English messages, socket
 * errors, SOAP faults, bare HTTP statuses) into a DeviceError with a code the gateway
 * can act on. This is the only place that knows the package's error wording.
 */
import { DeviceError, fromSocketError, type DeviceErrorCode } from '../errors.ts';
import { at, children, localPart, textAt, type XmlNode } from './xml.ts';

export interface SoapFault {
  /** Code/Value, local part: Sender, Receiver, MustUnderstand, VersionMismatch. */
  code: string;
  /** Subcode values, outermost first, local parts: ["InvalidArgVal", "NoProfile"]. */
  subcodes: string[];
  reason: string;
}

/** Reads a SOAP 1.2 Fault (or a SOAP 1.1 one, which some old firmwares still send). */
export function readFault(body: XmlNode): SoapFault | undefined {
  const fault = at(body, 'Fault');
  if (!fault) return undefined;
  const code = at(fault, 'Code');
  if (!code) {
    // SOAP 1.1: <faultcode>SOAP-ENV:Client</faultcode><faultstring>...</faultstring>
    return { code: localPart(textAt(fault, 'faultcode')), subcodes: [], reason: textAt(fault, 'faultstring') };
  }
  const subcodes: string[] = [];
  for (let sub = at(code, 'Subcode'); sub; sub = at(sub, 'Subcode')) subcodes.push(localPart(textAt(sub, 'Value')));
  const texts = children(at(fault, 'Reason'), 'Text').map((t) => t.text);
  return { code: localPart(textAt(code, 'Value')), subcodes, reason: texts[0] ?? '' };
}

const AUTH_SUBCODES = new Set([
  'NotAuthorized',
  'FailedAuthentication',
  'InvalidSecurity',
  'InvalidSecurityToken',
  'SecurityTokenUnavailable',
]);
const NOT_FOUND_SUBCODES = new Set(['NoProfile', 'NoEntity', 'NoConfig', 'NoSource', 'NoVideoSource']);
const UNSUPPORTED_SUBCODES = new Set(['ActionNotSupported', 'ActionNotImplemented', 'OptionalActionNotImplemented', 'InvalidStreamSetup']);

export function faultCode(f: SoapFault): DeviceErrorCode {
  if (f.subcodes.some((s) => AUTH_SUBCODES.has(s))) return 'auth';
  // A SOAP stack without WS-Security rejects our mustUnderstand Security header before
  // it looks at credentials: for us that is an authentication-method problem.
  if (f.code === 'MustUnderstand') return 'auth';
  // Some firmwares put the wording in Reason only ("Sender not Authorized").
  if (/not ?authori[sz]ed|unauthori[sz]ed/i.test(f.reason)) return 'auth';
  if (f.subcodes.some((s) => NOT_FOUND_SUBCODES.has(s))) return 'not_found';
  if (f.subcodes.some((s) => UNSUPPORTED_SUBCODES.has(s))) return 'unsupported';
  return 'rejected';
}

export function faultError(device: string, action: string, f: SoapFault, status?: number): DeviceError {
  const what = [f.code, ...f.subcodes].filter(Boolean).join('/');
  const http = status ? `HTTP ${status}, ` : '';
  return new DeviceError(faultCode(f), device, `${action}: ${http}SOAP fault ${what}${f.reason ? ` (${f.reason})` : ''}`);
}

export function statusError(device: string, action: string, status: number): DeviceError {
  const code: DeviceErrorCode =
    status === 401 || status === 403
      ? 'auth'
      : status === 404
        ? 'not_found'
        : status === 405 || status === 501
          ? 'unsupported'
          : 'rejected';
  return new DeviceError(code, device, `${action}: HTTP ${status} without a SOAP answer`);
}

/** Maps an error raised by the `onvif` package or by Node's socket layer. */
export function packageError(device: string, action: string, e: unknown): DeviceError {
  if (e instanceof DeviceError) return e;
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string' && /^E[A-Z_]+$/.test(err.code)) {
    const mapped = fromSocketError(device, e);
    return new DeviceError(mapped.code, device, `${action}: ${mapped.message.slice(device.length + 2)}`, { cause: e });
  }
  const msg = err?.message ?? String(e);
  // The package's own wording (lib/cam.js, 0.8.x).
  if (msg === 'Network timeout') return new DeviceError('timeout', device, `${action}: no answer in time`, { cause: e });
  if (msg.startsWith('Digest authentication failed'))
    return new DeviceError('auth', device, `${action}: HTTP Digest credentials refused`, { cause: e });
  if (msg.startsWith('Digest authentication headers not found'))
    return new DeviceError('auth', device, `${action}: HTTP 401 without a Digest challenge (Basic-only device?)`, { cause: e });
  return new DeviceError('protocol', device, `${action}: ${msg}`, { cause: e });
}
