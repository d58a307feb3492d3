/**
 * A small typed builder for ffmpeg command lines. Each preset is a named, commented group
 * of flags, so a reader sees why a flag is there (fluent-ffmpeg, the usual wrapper, was
 * archived in 2025, and hides the flags we most need to see).
 * Debian 12 ships ffmpeg 5.1: `-stimeout` is gone (use `-timeout`, in microseconds) and
 * `-vsync` is spelt `-fps_mode`.
 */
export type Flag = string | number;

export class FfmpegArgs {
  private readonly globals: string[] = ['-hide_banner', '-nostdin', '-nostats'];
  private readonly inputs: string[] = [];
  private readonly outputs: string[] = [];

  /** Only errors and warnings on stderr: that is what we classify. */
  logLevel(level: 'error' | 'warning' | 'info' = 'error'): this {
    this.globals.push('-loglevel', level);
    return this;
  }

  global(...flags: Flag[]): this {
    this.globals.push(...flags.map(String));
    return this;
  }

  /** Input options must come before their `-i`. */
  input(url: string, ...flags: Flag[]): this {
    this.inputs.push(...flags.map(String), '-i', url);
    return this;
  }

  output(target: string, ...flags: Flag[]): this {
    this.outputs.push(...flags.map(String), target);
    return this;
  }

  build(): string[] {
    return [...this.globals, ...this.inputs, ...this.outputs];
  }
}

/** Presets: each returns flags to splice into an input or output. */
export const preset = {
  /** RTSP over TCP (default) or UDP; `-timeout` is the socket timeout in µs (ffmpeg 5.1). */
  rtsp(transport: 'tcp' | 'udp', timeoutS: number): Flag[] {
    return ['-rtsp_transport', transport, '-timeout', Math.round(timeoutS * 1e6)];
  },
  /** A local file played like a camera: in real time (-re) and looped for ever. */
  fileAsCamera(): Flag[] {
    return ['-re', '-stream_loop', '-1'];
  },
  /**
   * A local file read as a recording (`clock: media`): as fast as the reader takes frames
   * (the pipe's back-pressure paces it), once, no looping. Nothing to add: this preset
   * names the absence of -re and -stream_loop.
   */
  fileAsRecording(): Flag[] {
    return [];
  },
  /**
   * One frame per `periodS` of video time, whatever the source's frame or key-frame rate
   * (duplicated over gaps, dropped when denser), so frame n is at n x periodS in the video.
   */
  mediaClock(periodS: number): string {
    return `fps=fps=1/${periodS}:round=near:eof_action=pass`;
  },
  /**
   * Decode key frames only: the decoder skips every P/B frame, which is most of the cost.
   * One decoder thread: with many cameras, threads per stream only add switching.
   */
  keyFramesOnly(): Flag[] {
    // With only key frames decoded, ffmpeg's stream probing (5 s by default) waits for
    // frames it will never decode; 1 s of analysis halves the time to the first frame.
    return ['-skip_frame', 'nokey', '-threads', '1', '-analyzeduration', 1_000_000];
  },
  /**
   * Scale inside ffmpeg so the JS side never resizes. `fit` keeps the aspect ratio inside
   * w x h (the detector letterboxes by placing it top-left); `stretch` fills w x h.
   * Two steps: resize in the camera's own YUV, then convert the small picture to RGB. One
   * swscale pass that resizes and converts together costs more: for 640x360 key frames to
   * 416x234, ffmpeg's CPU (decoding included) falls by about a tenth, some 0.2 ms a frame.
   */
  scale(w: number, h: number, fit: 'fit' | 'stretch', before?: string): Flag[] {
    const size = fit === 'fit' ? `w=${w}:h=${h}:force_original_aspect_ratio=decrease` : `w=${w}:h=${h}`;
    return ['-vf', `${before ? `${before},` : ''}scale=${size}:flags=bilinear,scale=flags=bilinear`];
  },
  /**
   * One output frame per decoded frame, with no duplication to a fixed rate; as PPM on a
   * pipe, because each frame then carries its own size in a tiny header.
   */
  framesToPipe(): Flag[] {
    return ['-an', '-sn', '-dn', '-fps_mode', 'passthrough', '-f', 'image2pipe', '-c:v', 'ppm'];
  },
};

/** Puts credentials into an RTSP URL, escaped, unless the URL already has some. */
export function withCredentials(url: string, user?: string, password?: string): string {
  if (!user) return url;
  const u = new URL(url);
  if (u.username) return url;
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password ?? '');
  return u.toString();
}

/** The URL with any password replaced, for logs and health messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
