/**
 * Drivers are picked by URL scheme. Adding a protocol is one folder in devices/ and one
 * line here.
 */
import type { SpeakerDriver } from './speakers/types.ts';
import { RtpSpeaker, parseRtpUrl } from './speakers/rtp/driver.ts';
import { DeviceError } from './errors.ts';
import { createIsapiSpeaker } from './speakers/isapi/driver.ts';
import { createDahuaSpeaker } from './speakers/dahua/driver.ts';
import { createSipSpeaker } from './speakers/sip/driver.ts';
import { createBackchannelSpeaker } from './speakers/backchannel/driver.ts';

export interface SpeakerSpec {
  id: string;
  url: string;
  codec?: 'pcma' | 'pcmu';
  /** Credentials kept out of the URL (SIP registrar, RTSP); URL credentials work too. */
  username?: string;
  password?: string;
}

type SpeakerFactory = (spec: SpeakerSpec) => SpeakerDriver;

const speakers: Record<string, SpeakerFactory> = {
  rtp: (s) => new RtpSpeaker(s.id, parseRtpUrl(s.url, s.codec)),
  isapi: (s) => createIsapiSpeaker(s.url, { id: s.id }),
  dahua: (s) => createDahuaSpeaker(s.url, { id: s.id }),
  rtsp: (s) => createBackchannelSpeaker(s.url, { id: s.id, codec: s.codec, username: s.username, password: s.password }),
  sip: (s) => createSipSpeaker(s.url, { id: s.id, codec: s.codec, username: s.username, password: s.password }),
};

export function speakerSchemes(): string[] {
  return Object.keys(speakers);
}

export function createSpeaker(spec: SpeakerSpec): SpeakerDriver {
  const scheme = spec.url.split(':')[0];
  const make = speakers[scheme];
  if (!make) throw new DeviceError('unsupported', spec.id, `no driver for "${scheme}:" URLs (have: ${speakerSchemes().join(', ')})`);
  return make(spec);
}
