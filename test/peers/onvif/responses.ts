/**
 * What the fake camera answers, filled into the templates in test/fixtures/onvif/.
 * Profile tokens, names and URIs follow a Hikvision IPC: Profile_1 mainStream,
 * Profile_2 subStream, Profile_3 thirdStream, rtsp://host:554/Streaming/Channels/101.
 */
import { render, kid, type FaultSpec, type Node } from './soap.ts';

export interface FakeProfile {
  token: string;
  name: string;
  encoding: 'H264' | 'H265' | 'JPEG';
  width: number;
  height: number;
  fps: number;
  bitrateKbps?: number;
  /** Default: a Hikvision-style rtsp://host:554/Streaming/Channels/10N URI. */
  streamUri?: string;
}

export const DEFAULT_PROFILES: FakeProfile[] = [
  { token: 'Profile_1', name: 'mainStream', encoding: 'H264', width: 1920, height: 1080, fps: 25, bitrateKbps: 4096 },
  { token: 'Profile_2', name: 'subStream', encoding: 'H264', width: 640, height: 360, fps: 25, bitrateKbps: 512 },
  { token: 'Profile_3', name: 'thirdStream', encoding: 'H264', width: 176, height: 144, fps: 15, bitrateKbps: 128 },
];

/** The device state answers are made from. */
export interface Catalogue {
  o: {
    manufacturer: string;
    model: string;
    firmware: string;
    serial: string;
    hardwareId: string;
    hostname: string;
    clockSkewSec: number;
    profiles: FakeProfile[];
    media2: boolean;
  };
  base: string;
  scopes: string[];
  streamUri(p: FakeProfile, i: number): string;
  snapshotUri(p: FakeProfile): string;
}

function profile(d: Catalogue, op: Node): [FakeProfile, number] {
  const token = kid(op, 'ProfileToken')?.text ?? '';
  const i = d.o.profiles.findIndex((p) => p.token === token);
  if (i < 0)
    throw {
      code: 'Sender',
      subcodes: ['ter:InvalidArgVal', 'ter:NoProfile'],
      reason: `Profile token ${token} does not exist`,
    } satisfies FaultSpec;
  return [d.o.profiles[i]!, i];
}

function encoder(p: FakeProfile, i: number): string {
  const codec =
    p.encoding === 'H264' ? `<tt:H264><tt:GovLength>${p.fps * 2}</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>` : '';
  return render('video-encoder', {
    index: i + 1,
    encoding: p.encoding,
    width: p.width,
    height: p.height,
    fps: p.fps,
    bitrate: p.bitrateKbps ?? 1024,
    codec,
  });
}

function profileXml(d: Catalogue, p: FakeProfile, i: number): string {
  const main = d.o.profiles[0]!;
  return render('profile', {
    name: p.name,
    index: i + 1,
    profileCount: d.o.profiles.length,
    sourceWidth: main.width,
    sourceHeight: main.height,
    encoder: encoder(p, i),
  });
}

/** Media2 (Profile T) answers: different namespace and layout, same profiles. */
export function answerMedia2(d: Catalogue, action: string, op: Node): string {
  if (action === 'GetStreamUri') {
    const [p, i] = profile(d, op);
    return render('Media2GetStreamUri', { uri: d.streamUri(p, i) });
  }
  if (action === 'GetSnapshotUri') return render('Media2GetSnapshotUri', { uri: d.snapshotUri(profile(d, op)[0]) });
  const main = d.o.profiles[0]!;
  const profiles = d.o.profiles.map((p, i) =>
    render('Media2Profiles', {
      token: p.token,
      name: p.name,
      index: i + 1,
      gov: p.fps * 2,
      encoding: p.encoding,
      width: p.width,
      height: p.height,
      fps: p.fps,
      bitrate: p.bitrateKbps ?? 1024,
      profileCount: d.o.profiles.length,
      sourceWidth: main.width,
      sourceHeight: main.height,
    }),
  );
  return render('Media2GetProfiles', { profiles: profiles.join('') });
}

/** The body for one request; throws a FaultSpec for a SOAP fault. */
export function answer(d: Catalogue, action: string, op: Node): string {
  const base = d.base;
  switch (action) {
    case 'GetSystemDateAndTime': {
      const utc = new Date(Date.now() + d.o.clockSkewSec * 1000);
      const local = new Date(utc.getTime() + 8 * 3600_000); // the device is set to China time
      const parts = (t: Date, p: string) => ({
        [`${p}Year`]: t.getUTCFullYear(),
        [`${p}Month`]: t.getUTCMonth() + 1,
        [`${p}Day`]: t.getUTCDate(),
        [`${p}Hour`]: t.getUTCHours(),
        [`${p}Minute`]: t.getUTCMinutes(),
        [`${p}Second`]: t.getUTCSeconds(),
      });
      return render('GetSystemDateAndTime', { dateTimeType: 'Manual', tz: 'CST-8:00:00', ...parts(utc, 'utc'), ...parts(local, 'local') });
    }
    case 'GetCapabilities':
      return render('GetCapabilities', { base });
    case 'GetServices':
      return render('GetServices', { base, media2: d.o.media2 ? render('Media2Service', { base }) : '' });
    case 'GetDeviceInformation':
      return render('GetDeviceInformation', {
        manufacturer: d.o.manufacturer,
        model: d.o.model,
        firmware: d.o.firmware,
        serial: d.o.serial,
        hardwareId: d.o.hardwareId,
      });
    case 'GetHostname':
      return render('GetHostname', { hostname: d.o.hostname });
    case 'GetScopes':
      return render('GetScopes', { scopes: d.scopes.map((item) => render('scope', { item })).join('') });
    case 'GetProfiles':
      return render('GetProfiles', {
        profiles: d.o.profiles.map((p, i) => render('Profiles', { token: p.token, profile: profileXml(d, p, i) })).join(''),
      });
    case 'GetProfile': {
      const [p, i] = profile(d, op);
      return render('GetProfile', { token: p.token, profile: profileXml(d, p, i) });
    }
    case 'GetVideoEncoderConfiguration': {
      const token = kid(op, 'ConfigurationToken')?.text ?? '';
      const i = d.o.profiles.findIndex((_p, n) => token === `VideoEncoderToken_${n + 1}`);
      if (i < 0)
        throw { code: 'Sender', subcodes: ['ter:InvalidArgVal', 'ter:NoConfig'], reason: `No configuration ${token}` } satisfies FaultSpec;
      return render('GetVideoEncoderConfiguration', { index: i + 1, encoder: encoder(d.o.profiles[i]!, i) });
    }
    case 'GetStreamUri': {
      const [p, i] = profile(d, op);
      return render('GetStreamUri', { uri: d.streamUri(p, i) });
    }
    case 'GetSnapshotUri':
      return render('GetSnapshotUri', { uri: d.snapshotUri(profile(d, op)[0]) });
    default:
      throw { code: 'Receiver', subcodes: ['ter:ActionNotSupported'], reason: 'Action Not Implemented' } satisfies FaultSpec;
  }
}
