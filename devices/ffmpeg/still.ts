/**
 * One full-resolution still (JPEG) from a stream: the next key frame of the camera's main
 * stream, for evidence when the camera has no snapshot URI.
 */
import { runCommand } from '../util/launcher.ts';
import { FfmpegArgs, preset, withCredentials } from './args.ts';
import { ffmpegError } from './errors.ts';

export interface StillOptions {
  url: string;
  username?: string;
  password?: string;
  transport?: 'tcp' | 'udp';
  timeoutMs: number;
  device: string;
}

export function stillArgs(o: StillOptions): string[] {
  const isRtsp = o.url.startsWith('rtsp');
  return new FfmpegArgs()
    .logLevel('error')
    .input(
      withCredentials(o.url, o.username, o.password),
      ...(isRtsp ? preset.rtsp(o.transport ?? 'tcp', o.timeoutMs / 1000) : []),
      '-skip_frame',
      'nokey',
      '-analyzeduration',
      1_000_000,
    )
    .output('pipe:1', '-an', '-frames:v', 1, '-q:v', 3, '-f', 'image2', '-c:v', 'mjpeg')
    .build();
}

export async function grabStill(o: StillOptions): Promise<Buffer> {
  // Lower priority, like the clip ring's commands: evidence gives way to analysis.
  const r = await runCommand('ffmpeg', stillArgs(o), { timeoutMs: o.timeoutMs + 2000, nice: 10 });
  const jpeg = r.stdout;
  if (r.code === 0 && jpeg.length > 2 && jpeg[0] === 0xff && jpeg[1] === 0xd8) return jpeg;
  const err = r.stderr.split('\n').filter(Boolean);
  throw ffmpegError(o.device, err, r.code === null ? 'no key frame in time' : `ffmpeg exited with code ${r.code}`, [o.password]);
}
