/**
 * Connects to one ONVIF device and reads what the gateway needs to ingest it: who it is,
 * its media profiles (resolution, encoding, frame rate) and a stream URI for each, and
 * snapshot URIs where the device has them.
 */
import { DeviceError } from '../errors.ts';
import { OnvifSession, type AuthMode, type Target } from './session.ts';
import { child, children, textAt, type XmlNode } from './xml.ts';

export interface OnvifProfile {
  token: string;
  name: string;
  /** Upper case, as the device names it: H264, H265, JPEG, MPEG4. */
  encoding: string;
  width: number;
  height: number;
  /** FrameRateLimit; 0 when the device does not say. */
  fps: number;
  streamUri: string;
  snapshotUri?: string;
}

export interface OnvifDevice {
  /** The device service URL we talked to (never with credentials). */
  url: string;
  manufacturer: string;
  model: string;
  firmware: string;
  serial: string;
  hardwareId: string;
  /** Device clock minus ours; WS-Security timestamps were corrected by it. */
  clockOffsetMs: number;
  /** What finally worked; 'ws-security' also covers a Digest challenge answered alongside. */
  auth: AuthMode | 'none';
  /** Which media service answered GetProfiles. */
  media: 'media1' | 'media2';
  /** Video profiles that have a stream URI, in the device's order. */
  profiles: OnvifProfile[];
  /** Things that went wrong without making the device unusable (a profile skipped, ...). */
  warnings: string[];
}

export interface ProbeOptions {
  user?: string;
  password?: string;
  /** Per request; a probe makes 5 + 2 per profile requests. Default 5000. */
  timeoutMs?: number;
}

/** Accepts onvif://host[:port][/path], http(s)://host[:port]/path or a bare host[:port]. */
export function parseTarget(url: string): Target & { user?: string; password?: string } {
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `onvif://${url}`);
  } catch {
    // Never echo credentials that were written into the address.
    throw new DeviceError('unreachable', url.replace(/\/\/[^@/]*@/, '//'), 'not a valid device address');
  }
  const secure = u.protocol === 'https:' || u.protocol === 'onvifs:';
  const path = u.pathname && u.pathname !== '/' ? u.pathname : '/onvif/device_service';
  return {
    hostname: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : secure ? 443 : 80,
    path: path + u.search,
    secure,
    user: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
  };
}

const num = (s: string) => (s && Number.isFinite(Number(s)) ? Number(s) : 0);

/** Media1 <Profiles> or Media2 <Profiles>; undefined for profiles without video. */
function readProfile(p: XmlNode, media2: boolean): Omit<OnvifProfile, 'streamUri'> | undefined {
  const enc = media2 ? child(child(p, 'Configurations'), 'VideoEncoder') : child(p, 'VideoEncoderConfiguration');
  if (!enc) return undefined;
  return {
    token: p.attrs.token ?? '',
    name: textAt(p, 'Name'),
    // Media2 allows the MIME subtype ("H265" but also "H.265" on some firmwares).
    encoding: (textAt(enc, 'Encoding') || enc.attrs.Encoding || '').toUpperCase().replace('.', ''),
    width: num(textAt(enc, 'Resolution', 'Width')),
    height: num(textAt(enc, 'Resolution', 'Height')),
    fps: num(textAt(enc, 'RateControl', 'FrameRateLimit')),
  };
}

/** Reads device information, profiles and URIs. Throws DeviceError. */
export async function probe(url: string, opts: ProbeOptions = {}): Promise<OnvifDevice> {
  const target = parseTarget(url);
  const scheme = target.secure ? 'https' : 'http';
  const host = target.hostname.includes(':') ? `[${target.hostname}]` : target.hostname;
  const deviceUrl = `${scheme}://${host}:${target.port}${target.path}`;
  const creds = { user: opts.user ?? target.user, password: opts.password ?? target.password };
  const s = new OnvifSession(deviceUrl, target, creds, opts.timeoutMs ?? 5000);
  const cam = s.cam;
  const warnings: string[] = [];
  try {
    await s.syncClock();

    // GetServices is the modern way to find the media service; GetCapabilities is the
    // one every Profile S device has. Either one fills cam.uri.
    try {
      await s.call('GetServices', 'GetServicesResponse', (cb) => cam.getServices(false, cb));
    } catch (e) {
      if (e instanceof DeviceError && (e.code === 'auth' || e.code === 'timeout' || e.code === 'refused')) throw e;
    }
    if (!cam.uri?.media && !cam.uri?.media2) await s.call('GetCapabilities', 'GetCapabilitiesResponse', (cb) => cam.getCapabilities(cb));
    if (!cam.uri?.media && !cam.uri?.media2) throw new DeviceError('unsupported', deviceUrl, 'no media service: not a video device');

    const info = await s.call('GetDeviceInformation', 'GetDeviceInformationResponse', (cb) => cam.getDeviceInformation(cb));

    let media2 = Boolean(cam.media2Support && cam.uri?.media2);
    let res: XmlNode;
    try {
      res = await s.call('GetProfiles', 'GetProfilesResponse', (cb) => cam.getProfiles(cb));
    } catch (e) {
      // Some Media2 implementations are broken (D-Link DCS-8635LH); Media1 usually is not.
      if (!media2 || !cam.uri?.media || (e instanceof DeviceError && e.code === 'auth')) throw e;
      warnings.push(`Media2 GetProfiles failed, used Media1: ${(e as Error).message}`);
      cam.media2Support = false;
      media2 = false;
      res = await s.call('GetProfiles', 'GetProfilesResponse', (cb) => cam.getProfiles(cb));
    }

    const profiles: OnvifProfile[] = [];
    for (const p of children(res, 'Profiles')) {
      const base = readProfile(p, media2);
      if (!base) continue;
      let streamUri: string;
      try {
        const r = await s.call('GetStreamUri', 'GetStreamUriResponse', (cb) =>
          cam.getStreamUri({ protocol: 'RTSP', stream: 'RTP-Unicast', profileToken: base.token }, cb),
        );
        streamUri = media2 ? textAt(r, 'Uri') : textAt(r, 'MediaUri', 'Uri');
      } catch (e) {
        if (!(e instanceof DeviceError) || ['auth', 'timeout', 'refused', 'unreachable'].includes(e.code)) throw e;
        // Dahua's "mcMediaProfile" and NVR channels without a camera fail here; the
        // other profiles are still good.
        warnings.push(`profile ${base.token} skipped: ${e.message}`);
        continue;
      }
      if (!streamUri) {
        warnings.push(`profile ${base.token} skipped: empty stream URI`);
        continue;
      }
      let snapshotUri: string | undefined;
      try {
        const r = await s.call('GetSnapshotUri', 'GetSnapshotUriResponse', (cb) => cam.getSnapshotUri({ profileToken: base.token }, cb));
        snapshotUri = (media2 ? textAt(r, 'Uri') : textAt(r, 'MediaUri', 'Uri')) || undefined;
      } catch (e) {
        if (e instanceof DeviceError && e.code === 'timeout') throw e;
        // Snapshots are optional in Profile S; evidence then comes from the stream.
      }
      profiles.push({ ...base, streamUri, snapshotUri });
    }
    if (profiles.length === 0)
      throw new DeviceError(
        'unsupported',
        deviceUrl,
        `no video profile with a stream URI${warnings.length ? ` (${warnings.join('; ')})` : ''}`,
      );

    return {
      url: deviceUrl,
      manufacturer: textAt(info, 'Manufacturer'),
      model: textAt(info, 'Model'),
      firmware: textAt(info, 'FirmwareVersion'),
      serial: textAt(info, 'SerialNumber'),
      hardwareId: textAt(info, 'HardwareId'),
      clockOffsetMs: Math.round(s.clockOffsetMs),
      auth: creds.user ? s.mode : 'none',
      media: media2 ? 'media2' : 'media1',
      profiles,
      warnings,
    };
  } catch (e) {
    // Whatever slipped through (a bug of ours or of the package) still names the device.
    throw e instanceof DeviceError ? e : new DeviceError('protocol', deviceUrl, (e as Error)?.message ?? String(e), { cause: e });
  } finally {
    s.close();
  }
}
