/**
 * What the console shows live: each camera's latest analysed frame with its detections and tracks
 * (kept as a copy: the capture's buffer goes back to its pool), and the server-sent event
 * streams fed from the bus.
 */
import type { ServerResponse } from 'node:http';
import sharp from 'sharp';
import type { Frame } from '../capture/camera.ts';
import type { Detection } from '../detect/types.ts';
import type { TrackView } from '../track/tracker.ts';

interface Latest {
  ts: number;
  width: number;
  height: number;
  rgb: Buffer;
  detections: readonly Detection[];
  /** The tracker's live tracks after this frame (absent until it has run on it). */
  tracks: readonly TrackView[];
  jpeg?: Promise<Buffer>;
}

export class LatestFrames {
  private readonly latest = new Map<string, Latest>();

  /** Called for every analysed frame; only a copy of the newest is kept. */
  record(camera: string, f: Frame, detections: readonly Detection[]): void {
    const prev = this.latest.get(camera);
    const rgb = prev && prev.rgb.length === f.data.length ? prev.rgb : Buffer.alloc(f.data.length);
    // Reusing the buffer would change a picture being encoded: copy into a new one then.
    const target = prev?.jpeg ? Buffer.alloc(f.data.length) : rgb;
    f.data.copy(target);
    this.latest.set(camera, { ts: f.ts, width: f.width, height: f.height, rgb: target, detections, tracks: [] });
  }

  /** The tracks the tracker made of the frame recorded at `ts`. */
  tracks(camera: string, ts: number, tracks: readonly TrackView[]): void {
    const l = this.latest.get(camera);
    if (l && l.ts === ts) l.tracks = tracks;
  }

  /** What the latest analysis saw: its detections and the tracks they updated. */
  analysis(camera: string) {
    const l = this.latest.get(camera);
    return l ? { ts: l.ts, width: l.width, height: l.height, detections: l.detections, tracks: l.tracks } : null;
  }

  /** The newest frame as JPEG, encoded once per frame however many pages ask. */
  jpeg(camera: string): Promise<{ ts: number; data: Buffer }> | null {
    const l = this.latest.get(camera);
    if (!l) return null;
    l.jpeg ??= sharp(l.rgb, { raw: { width: l.width, height: l.height, channels: 3 } })
      .jpeg({ quality: 75 })
      .toBuffer();
    return l.jpeg.then((data) => ({ ts: l.ts, data }));
  }
}

/** One browser's stream: a comment every 20 s keeps proxies from closing it. */
export function openStream(res: ServerResponse, send: (write: (name: string, data: unknown) => void) => () => void): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  const write = (name: string, data: unknown) => res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  const stop = send(write);
  const ping = setInterval(() => res.write(': ping\n\n'), 20_000);
  res.on('close', () => {
    clearInterval(ping);
    stop();
  });
}
