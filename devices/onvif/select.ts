/**
 * Which of a device's streams the gateway uses. Violations here are static (parked
 * cars, stalls, piles), so the detector needs a small picture once a second or two, not
 * the main stream: the sub-stream keeps 134 cameras within one edge box. Evidence is the
 * opposite case: one sharp picture, from the snapshot URI or else the main stream.
 */
import { DeviceError } from '../errors.ts';
import type { OnvifDevice, OnvifProfile } from './client.ts';

export interface SelectOptions {
  /** Narrower streams are too coarse for the detector (a 176x144 QCIF third stream). Default 320. */
  minWidth?: number;
}

export interface StreamChoice {
  /** The lowest-resolution profile at least minWidth wide. */
  analytics: OnvifProfile;
  /** The highest-resolution profile: the evidence stream when there is no snapshot. */
  main: OnvifProfile;
  /** A JPEG URI for evidence, preferring the main profile's. */
  snapshotUri?: string;
}

// Cheapest to decode key frames of first. MJPEG sends a full JPEG every frame.
const CODEC_RANK: Record<string, number> = { H264: 0, H265: 1, MPEG4: 2, JPEG: 3 };
const rank = (p: OnvifProfile) => CODEC_RANK[p.encoding] ?? 4;
const area = (p: OnvifProfile) => p.width * p.height;

/** The analytics profile, or undefined when no profile has a stream URI. */
export function selectAnalytics(profiles: readonly OnvifProfile[], opts: SelectOptions = {}): OnvifProfile | undefined {
  const minWidth = opts.minWidth ?? 320;
  const usable = profiles.filter((p) => p.streamUri);
  const wide = usable.filter((p) => p.width >= minWidth);
  if (wide.length > 0) {
    return [...wide].sort((a, b) => area(a) - area(b) || rank(a) - rank(b) || b.fps - a.fps)[0];
  }
  // Only tiny (or unknown-size) streams: the largest of them is still better than none.
  return [...usable].sort((a, b) => area(b) - area(a) || rank(a) - rank(b))[0];
}

/** The main (highest-resolution) profile. */
export function selectMain(profiles: readonly OnvifProfile[]): OnvifProfile | undefined {
  return [...profiles].filter((p) => p.streamUri).sort((a, b) => area(b) - area(a) || rank(a) - rank(b))[0];
}

/** Chooses the analytics stream and the evidence source. Throws DeviceError 'unsupported'. */
export function chooseStreams(device: OnvifDevice, opts: SelectOptions = {}): StreamChoice {
  const analytics = selectAnalytics(device.profiles, opts);
  const main = selectMain(device.profiles);
  if (!analytics || !main) throw new DeviceError('unsupported', device.url, 'no video profile with a stream URI');
  const snapshotUri = main.snapshotUri ?? device.profiles.find((p) => p.snapshotUri)?.snapshotUri;
  return { analytics, main, snapshotUri };
}
