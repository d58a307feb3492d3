/**
 * SDP (RFC 8866), as much as speakers need: the audio offer a SIP call makes, and reading
 * the media sections of an answer (SIP) or of an RTSP DESCRIBE (ONVIF backchannel).
 */
import { PAYLOAD_TYPE } from './rtp/packet.ts';

export interface SdpMedia {
  type: string; // audio, video, application
  port: number;
  proto: string;
  formats: string[];
  /** Connection address for this section (its own c= or the session's). */
  address?: string;
  /** a=rtpmap: payload type → "PCMA/8000". */
  rtpmap: Record<string, string>;
  /** sendrecv, sendonly, recvonly or inactive (the session's if the section names none). */
  direction: string;
  control?: string;
  ptime?: number;
  attributes: [string, string][];
}

export interface Sdp {
  origin?: string;
  address?: string;
  control?: string;
  media: SdpMedia[];
}

const DIRECTIONS = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

export function parseSdp(text: string): Sdp {
  const sdp: Sdp = { media: [] };
  let sessionDirection = 'sendrecv';
  let m: SdpMedia | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.length < 2 || line[1] !== '=') continue;
    const [k, v] = [line[0], line.slice(2)];
    if (k === 'm') {
      const [type, port, proto, ...formats] = v.split(/\s+/);
      m = { type, port: Number(port.split('/')[0]), proto, formats, address: sdp.address, rtpmap: {}, direction: '', attributes: [] };
      sdp.media.push(m);
    } else if (k === 'o') sdp.origin = v;
    else if (k === 'c') {
      const addr = v.split(/\s+/)[2]?.split('/')[0];
      if (m) m.address = addr;
      else sdp.address = addr;
    } else if (k === 'a') {
      const colon = v.indexOf(':');
      const [name, value] = colon < 0 ? [v, ''] : [v.slice(0, colon), v.slice(colon + 1)];
      if (!m) {
        if (DIRECTIONS.has(name)) sessionDirection = name;
        if (name === 'control') sdp.control = value;
        continue;
      }
      m.attributes.push([name, value]);
      if (DIRECTIONS.has(name)) m.direction = name;
      else if (name === 'rtpmap') {
        const [pt, enc] = value.split(/\s+/);
        m.rtpmap[pt] = enc;
      } else if (name === 'control') m.control = value;
      else if (name === 'ptime') m.ptime = Number(value);
    }
  }
  for (const media of sdp.media) media.direction ||= sessionDirection;
  return sdp;
}

/** G.711 law named by a payload type, from rtpmap or the static assignments (RFC 3551). */
export function g711Of(media: SdpMedia, pt: string): 'pcma' | 'pcmu' | undefined {
  const enc = media.rtpmap[pt]?.toUpperCase();
  if (enc) return enc.startsWith('PCMA/8000') ? 'pcma' : enc.startsWith('PCMU/8000') ? 'pcmu' : undefined;
  return pt === String(PAYLOAD_TYPE.pcma) ? 'pcma' : pt === String(PAYLOAD_TYPE.pcmu) ? 'pcmu' : undefined;
}

/** A send-only G.711 audio offer, preferred law first. */
export function audioOffer(o: {
  address: string;
  port: number;
  codecs: readonly ('pcma' | 'pcmu')[];
  ptimeMs: number;
  direction?: string;
  sessionId: string;
}): string {
  const pts = o.codecs.map((c) => PAYLOAD_TYPE[c]);
  return [
    'v=0',
    `o=gateway ${o.sessionId} ${o.sessionId} IN IP4 ${o.address}`,
    's=warning',
    `c=IN IP4 ${o.address}`,
    't=0 0',
    `m=audio ${o.port} RTP/AVP ${pts.join(' ')}`,
    ...o.codecs.map((c) => `a=rtpmap:${PAYLOAD_TYPE[c]} ${c === 'pcma' ? 'PCMA' : 'PCMU'}/8000`),
    `a=ptime:${o.ptimeMs}`,
    `a=${o.direction ?? 'sendonly'}`,
    '',
  ].join('\r\n');
}
