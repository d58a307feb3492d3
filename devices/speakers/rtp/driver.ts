/**
 * G.711 over plain RTP: unicast to one speaker, or multicast paging to a group. Many IP
 * speakers and paging gateways listen on a fixed port for exactly this.
 *   rtp://192.168.1.50:5004            unicast
 *   rtp://239.1.1.10:5004?ttl=4        multicast paging
 *   rtp://...?ptime=20&codec=pcmu      packet time (ms) and codec
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { lookup } from 'node:dns/promises';
import { DeviceError, fromSocketError } from '../../errors.ts';
import type { Audio, AudioCodec, PlayResult, SpeakerDriver } from '../types.ts';
import { PAYLOAD_TYPE } from './packet.ts';
import { streamRtp } from './stream.ts';

export interface RtpOptions {
  host: string;
  port: number;
  ptimeMs: number;
  ttl: number;
  codec: 'pcma' | 'pcmu';
  /** Local interface address for multicast. */
  iface?: string;
}

export function parseRtpUrl(url: string, codec?: 'pcma' | 'pcmu'): RtpOptions {
  const u = new URL(url);
  if (u.protocol !== 'rtp:') throw new DeviceError('unsupported', url, 'not an rtp:// URL');
  const port = Number(u.port);
  if (!port) throw new DeviceError('unsupported', url, 'rtp:// URL needs a port, e.g. rtp://192.168.1.50:5004');
  const q = u.searchParams;
  const c = (q.get('codec') ?? codec ?? 'pcma') as 'pcma' | 'pcmu';
  if (!(c in PAYLOAD_TYPE)) throw new DeviceError('unsupported', url, `codec ${c} is not G.711 (pcma or pcmu)`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port,
    ptimeMs: Number(q.get('ptime') ?? 20),
    ttl: Number(q.get('ttl') ?? 1),
    codec: c,
    iface: q.get('iface') ?? undefined,
  };
}

export function isMulticast(ip: string): boolean {
  const first = Number(ip.split('.')[0]);
  return isIPv4(ip) && first >= 224 && first <= 239;
}

export class RtpSpeaker implements SpeakerDriver {
  readonly id: string;
  readonly codecs: readonly AudioCodec[];
  private readonly opts: RtpOptions;

  constructor(id: string, opts: RtpOptions) {
    this.id = id;
    this.opts = opts;
    this.codecs = [opts.codec];
  }

  async play(audio: Audio, signal?: AbortSignal): Promise<PlayResult> {
    const { host, port, ptimeMs, ttl, codec, iface } = this.opts;
    if (audio.codec !== 'pcma' && audio.codec !== 'pcmu')
      throw new DeviceError('unsupported', this.id, `audio is ${audio.codec}, speaker takes ${codec}`);
    let ip: string;
    try {
      ip = isIPv4(host) ? host : (await lookup(host, { family: 4 })).address;
    } catch (e) {
      throw fromSocketError(this.id, e);
    }
    const sock: Socket = createSocket('udp4');
    let sockError: unknown;
    sock.on('error', (e) => (sockError = e));
    try {
      await new Promise<void>((ok, fail) => sock.bind(0, () => ok()).once('error', fail));
      const multicast = isMulticast(ip);
      if (multicast) {
        sock.setMulticastTTL(ttl);
        sock.setMulticastLoopback(true);
        if (iface) sock.setMulticastInterface(iface);
      } else {
        // A connected socket hears ICMP errors: a speaker that is off or not listening shows
        // as unreachable or refused instead of a message played into the void.
        await new Promise<void>((ok, fail) => (sock.once('error', fail), sock.connect(port, ip, () => (sock.off('error', fail), ok()))));
      }
      const r = await streamRtp(
        audio,
        (pkt) => {
          if (sockError) throw fromSocketError(this.id, sockError);
          return new Promise<void>((ok, fail) => {
            const done = (err: Error | null) => (err ? fail(fromSocketError(this.id, err)) : ok());
            if (multicast) sock.send(pkt, port, ip, done);
            else sock.send(pkt, done);
          });
        },
        { codec, ptimeMs, signal },
      );
      // ICMP port-unreachable arrives asynchronously; give it a moment to surface.
      await new Promise((r) => setTimeout(r, 30));
      if (sockError) throw fromSocketError(this.id, sockError);
      return { sentMs: r.sentMs, bytes: r.bytes, detail: `rtp ${ip}:${port} pt=${r.payloadType} ssrc=${r.ssrc.toString(16)}` };
    } catch (e) {
      if (signal?.aborted) throw new DeviceError('timeout', this.id, 'playback aborted', { cause: e });
      throw fromSocketError(this.id, e);
    } finally {
      sock.close();
    }
  }

  async close(): Promise<void> {}
}
