/**
 * Real peers (mosquitto, ffmpeg, GStreamer, baresip, SIPp) are found on PATH. On a
 * developer box a missing peer skips the tests that need it, loudly; under CI=true it
 * is a failure, so a green run always means the peer was really there.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const found = new Map<string, string | null>();

export function which(cmd: string): string | null {
  if (found.has(cmd)) return found.get(cmd)!;
  let path: string | null = null;
  if (cmd.startsWith('/')) path = existsSync(cmd) ? cmd : null;
  else {
    try {
      path = execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
    } catch {
      path = null;
    }
  }
  found.set(cmd, path);
  return path;
}

/** True when every command is present. Under CI=true a missing one throws. */
export function havePeers(...cmds: string[]): boolean {
  const missing = cmds.filter((c) => !which(c));
  if (missing.length === 0) return true;
  const msg = `test peer(s) missing: ${missing.join(', ')} (install them with: bash scripts/peers.sh test)`;
  if (process.env.CI === 'true') throw new Error(msg);
  console.warn(`SKIP: ${msg}`);
  return false;
}
