/**
 * One message as an RTP stream at real-time pace: fixed-size packets (20 ms by default),
 * each due at start + its media time. The carrier is the caller's: a UDP socket (plain
 * RTP, SIP media) or an RTSP connection (ONVIF backchannel, interleaved frames).
 */
import { PAYLOAD_TYPE, newRtpState, rtpPacket } from './packet.ts';
import { convertLaw } from './g711.ts';
import { paced, slices } from '../../util/pace.ts';
import type { Audio } from '../types.ts';

export interface RtpStreamOptions {
  /** The law the receiver takes; G.711 audio in the other law is converted on the way. */
  codec: 'pcma' | 'pcmu';
  /** Payload type to write; the static one for the codec unless the SDP named another. */
  payloadType?: number;
  ptimeMs?: number;
  signal?: AbortSignal;
}

export interface RtpStreamResult {
  sentMs: number;
  bytes: number;
  packets: number;
  ssrc: number;
  payloadType: number;
}

export async function streamRtp(
  audio: Audio,
  send: (packet: Buffer) => void | Promise<void>,
  o: RtpStreamOptions,
): Promise<RtpStreamResult> {
  if (audio.codec !== 'pcma' && audio.codec !== 'pcmu') throw new Error(`RTP carries G.711 here, not ${audio.codec}`);
  const data = convertLaw(audio.data, audio.codec, o.codec);
  const ptimeMs = o.ptimeMs ?? 20;
  const samplesPerPacket = Math.round((audio.sampleRate * ptimeMs) / 1000); // 1 byte per G.711 sample
  const st = newRtpState();
  const ssrc = st.ssrc;
  const pt = o.payloadType ?? PAYLOAD_TYPE[o.codec];
  let bytes = 0;
  let packets = 0;
  const sentMs = await paced(
    slices(data, samplesPerPacket),
    ptimeMs,
    async (chunk, i) => {
      await send(rtpPacket(st, pt, chunk, chunk.length, i === 0));
      bytes += chunk.length;
      packets++;
    },
    o.signal,
  );
  return { sentMs, bytes, packets, ssrc, payloadType: pt };
}
