/**
 * The clip ring read in-process (devices/ffmpeg/ring-read.ts) gives what the ffmpeg
 * commands it replaces gave: segments joined into an MP4 with the very same packets and
 * timestamps as `ffmpeg -i concat:… -c copy`, and a segment's key frame as a JPEG of the
 * same size and picture as `ffmpeg -skip_frame nokey … -q:v 2 -c:v mjpeg`. A bad file is
 * an error naming it; a segment with no whole key frame yet gives no picture.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { havePeers } from '../peers/require.ts';
import { makeClip } from '../peers/media.ts';
import { tempDir } from '../helpers/gateway.ts';
import { loadNodeAv, type NodeAv } from '../../devices/ffmpeg/node-av-lib.ts';
import { joinSegments, keyFrameJpeg } from '../../devices/ffmpeg/ring-read.ts';

const ffmpeg = (args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { maxBuffer: 64 << 20 });
const packets = (file: string) =>
  execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=pts,dts,flags,size', '-of', 'csv', file], { encoding: 'utf8' });

describe.runIf(havePeers('ffmpeg'))('the clip ring read in-process', () => {
  let av: NodeAv;
  let segs: string[];
  const dir = tempDir('gw-ring-read-');
  beforeAll(async () => {
    av = await loadNodeAv();
    // B-frames (reordered timestamps) and 1 s segments cut on 1 s GOPs, as the ring makes them.
    const clip = await makeClip({ codec: 'h264', seconds: 8, width: 320, height: 180, fps: 25, gopSeconds: 1, bframes: 2 });
    ffmpeg([
      '-i',
      clip,
      '-map',
      '0:v:0',
      '-c',
      'copy',
      '-f',
      'segment',
      '-segment_time',
      '1',
      '-reset_timestamps',
      '0',
      join(dir, 'seg%04d.ts'),
    ]);
    segs = readdirSync(dir)
      .filter((n) => n.endsWith('.ts'))
      .sort()
      .map((n) => join(dir, n));
  }, 60_000);

  it('joins segments into the MP4 ffmpeg concat makes: the same packets, timestamps and flags', async () => {
    expect(segs.length).toBeGreaterThanOrEqual(6);
    const some = segs.slice(2, 6);
    const ours = join(dir, 'ours.mp4');
    const theirs = join(dir, 'theirs.mp4');
    await joinSegments(av, some, ours);
    ffmpeg(['-i', `concat:${some.join('|')}`, '-map', '0:v:0', '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4', theirs]);
    const mine = packets(ours);
    expect(mine.split('\n').length).toBeGreaterThan(90);
    expect(mine).toBe(packets(theirs));
    // The index is at the front (faststart): the 'moov' box comes before 'mdat'.
    const head = readFileSync(ours).subarray(0, 4096).toString('latin1');
    expect(head.indexOf('moov')).toBeGreaterThan(0);
    expect(head.indexOf('moov')).toBeLessThan(readFileSync(ours).toString('latin1').indexOf('mdat'));
  });

  it("gives a segment's key frame as the JPEG ffmpeg gives, same size and picture", async () => {
    const jpeg = (await keyFrameJpeg(av, segs[3]))!;
    const ref = ffmpeg([
      '-skip_frame',
      'nokey',
      '-i',
      segs[3],
      '-an',
      '-frames:v',
      '1',
      '-q:v',
      '2',
      '-f',
      'image2',
      '-c:v',
      'mjpeg',
      'pipe:1',
    ]);
    const [a, b] = await Promise.all([jpeg, ref].map((j) => sharp(j).raw().toBuffer({ resolveWithObject: true })));
    expect([a.info.width, a.info.height]).toEqual([320, 180]);
    expect([b.info.width, b.info.height]).toEqual([320, 180]);
    let diff = 0;
    for (let i = 0; i < a.data.length; i++) diff += Math.abs(a.data[i] - b.data[i]);
    expect(diff / a.data.length).toBeLessThan(2); // of 255: the same picture
    // And not any picture: another second of the test pattern differs.
    const other = await sharp((await keyFrameJpeg(av, segs[5]))!)
      .raw()
      .toBuffer();
    let apart = 0;
    for (let i = 0; i < a.data.length; i++) apart += Math.abs(a.data[i] - other[i]);
    expect(apart / a.data.length).toBeGreaterThan(2);
  });

  it('gives no picture for a segment cut before its key frame ends, and names a file it cannot read', async () => {
    const cut = join(dir, 'cut.ts');
    writeFileSync(cut, readFileSync(segs[1]).subarray(0, 188 * 8));
    expect(await keyFrameJpeg(av, cut)).toBeNull();
    const junk = join(dir, 'junk.ts');
    writeFileSync(junk, Buffer.alloc(4096, 7));
    await expect(keyFrameJpeg(av, junk)).rejects.toThrow(/junk\.ts/);
    await expect(joinSegments(av, [join(dir, 'missing.ts')], join(dir, 'x.mp4'))).rejects.toThrow(/missing\.ts/);
  });
});
