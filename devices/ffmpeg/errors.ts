/**
 * Turns what ffmpeg prints on stderr into a DeviceError code a technician can act on.
 * Patterns are the messages ffmpeg 5.1 prints for RTSP and file inputs.
 */
import { DeviceError, type DeviceErrorCode } from '../errors.ts';

/** What a stream that stops (the server killed, restarted or the link cut) is called. */
export const ENDED = 'stream ended (server closed the connection)';

/**
 * Lines ffmpeg prints about the packets it got last, not about why it stopped: when a
 * server dies mid-stream the muxer complains about the half-delivered packet. Never a
 * reason.
 */
const NOISE =
  /non monotonically increasing dts|Application provided invalid|Error muxing a packet|Past duration .* too large|Last message repeated/i;

const PATTERNS: [RegExp, DeviceErrorCode, string][] = [
  [/401 Unauthorized|403 Forbidden|authorization failed/i, 'auth', 'auth failed (wrong user name or password)'],
  [/404 Not Found|No such file or directory|454 Session Not Found/i, 'not_found', 'not found (wrong stream path or file)'],
  [/Connection refused/i, 'refused', 'connection refused (nothing listening on that port)'],
  [/Connection reset by peer|Broken pipe|Error in the pull function/i, 'ended', ENDED],
  [
    /No route to host|Network is unreachable|Name or service not known|Temporary failure in name resolution|Host is down/i,
    'unreachable',
    'unreachable (host down or no route)',
  ],
  [/timed out|Connection timed out|timeout/i, 'timeout', 'timeout (no answer from the camera)'],
  [
    /Decoder \(codec [^)]+\) not found|unsupported codec|Codec .* is not supported|Unknown codec|Could not find codec parameters/i,
    'unsupported',
    'unsupported codec',
  ],
  [/461 Unsupported transport|Unsupported Transport/i, 'unsupported', 'unsupported transport (try transport: tcp)'],
  [
    /Invalid data found when processing input|Server returned 5\d\d|method (DESCRIBE|SETUP|PLAY) failed/i,
    'protocol',
    'the stream could not be read',
  ],
];

export function classifyStderr(lines: readonly string[]): { code: DeviceErrorCode; reason: string; line: string } | null {
  // The last matching line is the one closest to the failure.
  for (let i = lines.length - 1; i >= 0; i--) {
    for (const [re, code, reason] of PATTERNS) if (re.test(lines[i])) return { code, reason, line: lines[i].trim() };
  }
  return null;
}

/**
 * ffmpeg echoes the input URL, password included, in its errors ("rtsp://admin:pw@...:
 * Server returned 401"). Health messages and logs must never carry it.
 */
export function hideSecrets(line: string, secrets: readonly (string | undefined)[]): string {
  let out = line.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@/\s]*@/gi, '$1***@');
  for (const s of secrets) if (s && s.length >= 2) out = out.split(s).join('***').split(encodeURIComponent(s)).join('***');
  return out;
}

/**
 * The error for an ffmpeg that exited. `streamEnded`: it read a network stream and exited
 * on its own with code 0, which it does when the server closes the connection.
 */
export function ffmpegError(
  device: string,
  lines: readonly string[],
  fallback: string,
  secrets: readonly (string | undefined)[] = [],
  streamEnded = false,
): DeviceError {
  const c = classifyStderr(lines);
  if (c) return new DeviceError(c.code, device, `${c.reason}: ${hideSecrets(c.line, secrets)}`);
  if (streamEnded) return new DeviceError('ended', device, ENDED);
  const last = lines.filter((l) => l.trim() && !NOISE.test(l)).at(-1);
  return new DeviceError('protocol', device, last ? `${fallback}: ${hideSecrets(last.trim(), secrets)}` : fallback);
}
