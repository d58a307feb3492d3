/**
 * One full-resolution still (JPEG) from a stream: the next key frame of the camera's main
 * stream, for evidence when the camera has no snapshot URI.
 */
import { spawn } from 'node:child_process';
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

export function grabStill(o: StillOptions): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const p = spawn('ffmpeg', stillArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: string[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.setEncoding('utf8').on('data', (s: string) => err.push(...s.split('\n').filter(Boolean)));
    const timer = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs + 2000);
    p.on('error', (e) => fail(e));
    p.on('close', (code) => {
      clearTimeout(timer);
      const jpeg = Buffer.concat(out);
      if (code === 0 && jpeg.length > 2 && jpeg[0] === 0xff && jpeg[1] === 0xd8) ok(jpeg);
      else fail(ffmpegError(o.device, err, code === null ? 'no key frame in time' : `ffmpeg exited with code ${code}`, [o.password]));
    });
  });
}
