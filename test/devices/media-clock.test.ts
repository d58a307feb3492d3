/**
 * The media clock (`clock: media`): a video file read once, as fast as frames are taken,
 * one frame per analysis interval of video time, each stamped start + its time in the
 * video; with back-pressure instead of drops, and an end instead of a restart.
 */
import { describe, expect, it } from 'vitest';
import { FrameSource, frameSourceArgs, usesMediaClock, type FrameSourceOptions } from '../../devices/ffmpeg/frames.ts';
import { CameraCapture, type Frame } from '../../gateway/capture/camera.ts';
import type { CameraHealth } from '../../gateway/capture/health.ts';
import type { CameraSettings } from '../../gateway/settings/schema.ts';
import { silentLogger } from '../../gateway/log.ts';
import { havePeers } from '../peers/require.ts';
import { makeClip } from '../peers/media.ts';

const hasFfmpeg = havePeers('ffmpeg');
const base: FrameSourceOptions = { url: '/srv/videos/street.mp4', width: 416, height: 416, fit: 'fit' };
// testsrc2, 640x360, 10 fps, a key frame every second, 12 s long.
const clip = () => makeClip({ codec: 'h264', width: 640, height: 360, fps: 10, gopSeconds: 1, seconds: 12 });

describe('frameSourceArgs with clock: media', () => {
  it('a file is read once, unpaced, with one frame per period of video time', () => {
    const a = frameSourceArgs({ ...base, clock: 'media', periodS: 2 });
    expect(a).not.toContain('-re');
    expect(a).not.toContain('-stream_loop');
    expect(a).toContain('-skip_frame');
    expect(a[a.indexOf('-vf') + 1]).toBe(
      'fps=fps=1/2:round=near:eof_action=pass,scale=w=416:h=416:force_original_aspect_ratio=decrease:flags=bilinear,scale=flags=bilinear',
    );
  });

  it('a live stream has no media time: the option is ignored', () => {
    const o = { ...base, url: 'rtsp://192.0.2.10/ch1', clock: 'media' as const };
    expect(usesMediaClock(o)).toBe(false);
    expect(frameSourceArgs(o)[frameSourceArgs(o).indexOf('-vf') + 1]).toMatch(/^scale=/);
    expect(usesMediaClock({ url: 'file:///srv/a.mp4', clock: 'media' })).toBe(true);
  });
});

describe.runIf(hasFfmpeg)('media clock on a real clip', () => {
  it('stamps frames with their time in the video, all of them, despite a slow reader', async () => {
    const start = Date.parse('2025-06-03T10:00:00+08:00');
    const src = new FrameSource('cam', { ...base, url: await clip(), clock: 'media', periodS: 2, startMs: start });
    const stamps: number[] = [];
    src.on('frame', (_h, _d, ts) => {
      stamps.push(ts);
      // A detector that takes 150 ms: reading waits, nothing is lost.
      src.pause();
      setTimeout(() => src.resume(), 150);
    });
    const t0 = Date.now();
    const exited = new Promise<number | null>((ok) => src.once('exit', (_e, c) => ok(c)));
    src.start();
    expect(await exited).toBe(0);
    expect(stamps.map((t) => (t - start) / 1000)).toEqual([0, 2, 4, 6, 8, 10]);
    // Six frames of 150 ms each, not 12 s of video.
    expect(Date.now() - t0).toBeLessThan(8000);
  }, 20_000);

  it('a camera on a file with clock: media ends instead of restarting, and never drops a frame', async () => {
    const url = await clip();
    const frames: Frame[] = [];
    const health: CameraHealth[] = [];
    const camera = { id: 'cam', url, interval_s: 1, stall_s: 15, transport: 'tcp', clock: 'media', zones: [] } as unknown as CameraSettings;
    const cap = new CameraCapture({
      camera,
      width: 416,
      height: 234,
      fit: 'fit',
      log: silentLogger(),
      onHealth: (h) => health.push(h),
      // The detector holds each frame a while, like a busy queue.
      onFrame: (f) => (frames.push(f), setTimeout(() => f.release(), 40)),
    });
    cap.start();
    const deadline = Date.now() + 15_000;
    while (!cap.ended && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 50));
    await cap.stop();
    expect(cap.ended).toBe(true);
    expect(frames).toHaveLength(12);
    const ts = frames.map((f) => f.ts - frames[0].ts);
    expect(ts).toEqual(Array.from({ length: 12 }, (_, i) => i * 1000));
    expect(cap.snapshot().dropped).toBe(0);
    expect(cap.snapshot().restarts).toBe(0);
    expect(health.at(-1)).toMatchObject({ state: 'offline', reason: expect.stringContaining('end of the video file') });
  }, 20_000);
});
