/**
 * A camera whose RTSP server is killed mid-stream (the real GStreamer server): the first
 * reason the camera's health gives is "stream ended (server closed the connection)", not
 * whatever ffmpeg printed about the last packet, and "connection refused" follows while
 * nothing listens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { havePeers } from '../peers/require.ts';
import { RTSP_PEERS, startRtspServer, type RtspServer } from '../peers/rtsp.ts';
import { makeClip } from '../peers/media.ts';
import { cameraSettings, watch, type Watched } from './helpers.ts';

const ok = havePeers(...RTSP_PEERS);

describe.runIf(ok)('RTSP server killed mid-stream', () => {
  let server: RtspServer;
  const running: Watched[] = [];

  beforeAll(async () => {
    const clip = await makeClip({ codec: 'h264', gopSeconds: 1, seconds: 10 });
    server = await startRtspServer({ mounts: { '/sub': clip } });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.map((w) => w.capture.stop()));
    await server?.stop();
  });

  for (const transport of ['tcp', 'udp'] as const) {
    it(`${transport}: the first reason is "stream ended (server closed the connection)", then connection refused`, async () => {
      const w = watch(cameraSettings({ id: `ended-${transport}`, url: server.url('/sub'), transport }), {
        backoff: { baseMs: 300, maxMs: 600 },
      });
      running.push(w);
      w.capture.start();
      await w.frames_(2, 20_000);
      server.kill();
      const first = await w.until((h) => h.state !== 'online', 20_000, 'first failure');
      expect(first.reason).toBe('stream ended (server closed the connection)');
      expect(first.code).toBe('ended');
      const next = await w.until((h) => h.code === 'refused', 20_000, 'connection refused');
      expect(next.reason).toMatch(/^connection refused/);
      await server.restart();
      await w.until((h) => h.state === 'online', 30_000, 'online again');
    });
  }
});
