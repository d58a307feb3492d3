/**
 * Where a camera's pictures come from. An rtsp:// URL or a file is used as given; an
 * onvif:// camera is asked (device service, profiles) for its analytics sub-stream, its
 * main stream and its snapshot URI, and asked again after repeated failures: cameras
 * reboot with new stream paths, DHCP moves them, passwords change.
 */
import { probe, chooseStreams } from '../../devices/onvif/index.ts';
import type { CameraSettings } from '../settings/schema.ts';

export interface CameraSource {
  /** The low-resolution stream the detector analyses. */
  analytics: string;
  /** A full-resolution stream for evidence stills, when known. */
  main?: string;
  /** A JPEG snapshot URI for evidence (HTTP, usually behind Digest), when known. */
  snapshot?: string;
  /** What ONVIF said, for logs and status: "HIKVISION DS-2CD2043G0-I, sub 640x360". */
  note?: string;
}

export function isOnvif(url: string): boolean {
  return url.startsWith('onvif://');
}

export async function resolveSource(cam: CameraSettings, resolvePath?: (p: string) => string, timeoutMs = 8000): Promise<CameraSource> {
  if (!isOnvif(cam.url)) {
    const url = /^[a-z]+:\/\//.test(cam.url) || !resolvePath ? cam.url : resolvePath(cam.url);
    return { analytics: url, main: cam.main_url, snapshot: cam.snapshot_url };
  }
  const device = await probe(cam.url, { user: cam.username, password: cam.password, timeoutMs });
  const s = chooseStreams(device, { minWidth: cam.min_width });
  return {
    analytics: s.analytics.streamUri,
    main: cam.main_url ?? s.main.streamUri,
    snapshot: cam.snapshot_url ?? s.snapshotUri,
    note: `${device.manufacturer} ${device.model}, analytics ${s.analytics.width}x${s.analytics.height} ${s.analytics.encoding} (${s.analytics.token}), main ${s.main.width}x${s.main.height}`,
  };
}
