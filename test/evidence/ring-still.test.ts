/**
 * A camera without a snapshot URI or main stream gets its evidence stills from its clip
 * ring: the newest key frame the ring holds, as a JPEG at the stream's own size. The
 * segments are as long as the GOP here (2 s each, a key frame every 2 s, like a sub-stream),
 * where seeking near a segment's end found no key frame and gave no picture at all.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import sharp from 'sharp';
import { havePeers } from '../peers/require.ts';
import { makeClip } from '../peers/media.ts';
import { tempDir } from '../helpers/gateway.ts';
import { ClipRing } from '../../gateway/evidence/ring.ts';

const ok = havePeers('ffmpeg');
let ring: ClipRing | null = null;
afterEach(async () => {
  await ring?.stop();
  ring = null;
});

describe.runIf(ok)('the clip ring as a still source', () => {
  it('gives the newest key frame as a JPEG when the GOP is as long as a segment', async () => {
    const clip = await makeClip({ codec: 'h264', seconds: 20, width: 320, height: 180, fps: 25, gopSeconds: 2 });
    ring = new ClipRing({
      camera: 'cam-1',
      url: clip,
      transport: 'tcp',
      dir: tempDir('gw-ring-still-'),
      segmentS: 2,
      keepS: 10,
      log: pino({ level: 'silent' }),
    });
    ring.start();
    await expect(ring.latestStill()).rejects.toThrow(/clip ring of cam-1 has no picture yet/);
    const by = Date.now() + 20_000;
    while (ring.segments().length < 3 && Date.now() < by) await new Promise((r) => setTimeout(r, 200));
    expect(ring.segments().length).toBeGreaterThanOrEqual(3);
    const jpeg = await ring.latestStill();
    const meta = await sharp(jpeg).metadata();
    expect(meta.format).toBe('jpeg');
    expect([meta.width, meta.height]).toEqual([320, 180]);
    // An event's stills asked together share one decode of the same key frame.
    const [a, b] = await Promise.all([ring.latestStill(), ring.latestStill()]);
    expect(a).toBe(b);
  });
});
