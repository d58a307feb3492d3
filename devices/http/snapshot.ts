/**
 * A camera's JPEG snapshot over HTTP (the ONVIF GetSnapshotUri, or a vendor URL such as
 * Hikvision's /ISAPI/Streaming/channels/101/picture). Almost always behind Digest.
 */
import { DeviceError } from '../errors.ts';
import { digestRequest } from './digest.ts';

export async function fetchSnapshot(
  url: string,
  user: string | undefined,
  password: string | undefined,
  timeoutMs: number,
  device: string,
): Promise<Buffer> {
  const res = await digestRequest({
    url,
    method: 'GET',
    user,
    password,
    timeoutMs,
    device,
    signal: AbortSignal.timeout(timeoutMs),
    maxAnswerBytes: 20_000_000,
    rejectUnauthorized: false,
  });
  if (res.status === 401 || res.status === 403) throw new DeviceError('auth', device, `snapshot refused (${res.status})`);
  if (res.status === 404) throw new DeviceError('not_found', device, 'snapshot URI not found (404)');
  if (res.status < 200 || res.status >= 300) throw new DeviceError('rejected', device, `snapshot answered HTTP ${res.status}`);
  // Some firmware answers 200 with an HTML error page: insist on a JPEG.
  if (res.body.length < 4 || res.body[0] !== 0xff || res.body[1] !== 0xd8)
    throw new DeviceError(
      'protocol',
      device,
      `snapshot is not a JPEG (${res.headers['content-type'] ?? 'no content type'}, ${res.body.length} bytes)`,
    );
  return res.body;
}
