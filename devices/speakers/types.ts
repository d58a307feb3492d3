/**
 * What every speaker driver implements. The gateway prepares the audio in a codec the
 * driver asked for (transcoding happens once, in gateway/alert, and is cached); the
 * driver only moves bytes to the device at real-time pace.
 */
export type AudioCodec = 'pcma' | 'pcmu' | 'pcm_s16le' | 'aac';

export interface Audio {
  codec: AudioCodec;
  sampleRate: number; // Hz; G.711 is always 8000
  channels: 1;
  data: Buffer; // raw samples in `codec` (no container)
  durationMs: number;
}

export interface PlayResult {
  /** Wall-clock time the device spent receiving audio. */
  sentMs: number;
  /** Bytes of audio payload handed to the device. */
  bytes: number;
  /** Protocol-level detail worth recording (SIP call id, RTSP session, HTTP status). */
  detail?: string;
}

export interface SpeakerDriver {
  readonly id: string;
  /** Codecs in order of preference; the first one is what the gateway will prepare. */
  readonly codecs: readonly AudioCodec[];
  /** Plays one message. Resolves when the device has received all of it; throws DeviceError. */
  play(audio: Audio, signal?: AbortSignal): Promise<PlayResult>;
  close(): Promise<void>;
}
