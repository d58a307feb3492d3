/**
 * The one error type drivers throw. Drivers never log: they describe what went wrong
 * with a code the gateway can act on (health reasons, escalation) and a message that
 * names the device, so a township technician can read it without the code.
 */
export type DeviceErrorCode =
  | 'auth' // credentials refused (401/403, SIP 401 after retry, RTSP 401)
  | 'unreachable' // no route, host down, DNS failure
  | 'refused' // host up, port closed
  | 'timeout' // no answer in time
  | 'not_found' // path, stream or profile does not exist (404)
  | 'unsupported' // the device cannot do what we asked (codec, method, profile)
  | 'rejected' // the device answered with an error we do not map more finely
  | 'busy' // the device is in use by someone else (speaker already talking)
  | 'ended' // the stream ended: the server closed the connection (restarted, killed, cut)
  | 'protocol'; // the device answered with something we cannot parse

export class DeviceError extends Error {
  readonly code: DeviceErrorCode;
  readonly device: string;
  constructor(code: DeviceErrorCode, device: string, message: string, options?: { cause?: unknown }) {
    super(`${device}: ${message}`, options);
    this.name = 'DeviceError';
    this.code = code;
    this.device = device;
  }
}

export function isDeviceError(e: unknown): e is DeviceError {
  return e instanceof DeviceError;
}

/** Maps a Node socket error (ECONNREFUSED, ...) to a DeviceError. */
export function fromSocketError(device: string, e: unknown): DeviceError {
  if (e instanceof DeviceError) return e;
  const err = e as NodeJS.ErrnoException;
  const code = err?.code ?? '';
  const what = err?.message ?? String(e);
  switch (code) {
    case 'ECONNREFUSED':
      return new DeviceError('refused', device, `connection refused (${what})`, { cause: e });
    case 'ETIMEDOUT':
    case 'ESOCKETTIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'ABORT_ERR':
    case 'TimeoutError':
      return new DeviceError('timeout', device, `timed out (${what})`, { cause: e });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTDOWN':
      return new DeviceError('unreachable', device, `unreachable (${what})`, { cause: e });
    default:
      if (err?.name === 'TimeoutError' || err?.name === 'AbortError')
        return new DeviceError('timeout', device, `timed out (${what})`, { cause: e });
      return new DeviceError('unreachable', device, what, { cause: e });
  }
}
