/**
 * Which decoder reads a camera. `auto` (the default) is node-av when its package loads on
 * this machine (an optional dependency with a prebuilt binary): no process per camera, and
 * a key frame decoded only when the camera is due. Otherwise one ffmpeg per camera, as the
 * gateway always could. Asked once per process: the answer cannot change while it runs.
 */
import { loadNodeAv } from '../../devices/ffmpeg/node-av.ts';
import type { CameraSettings } from '../settings/schema.ts';

export type DecoderKind = 'ffmpeg' | 'node-av';

let loads: Promise<boolean> | null = null;

export function chooseDecoder(c: Pick<CameraSettings, 'decoder'>): Promise<DecoderKind> {
  if (c.decoder === 'ffmpeg' || c.decoder === 'node-av') return Promise.resolve(c.decoder);
  loads ??= loadNodeAv().then(
    () => true,
    () => false,
  );
  return loads.then((ok) => (ok ? 'node-av' : 'ffmpeg'));
}
