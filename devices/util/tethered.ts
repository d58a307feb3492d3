/**
 * Starts a long-running child (a camera's ffmpeg, its clip ring) so that it dies with this
 * process. A gateway killed outright (kill -9, the OOM killer, a crash in native code)
 * otherwise leaves its ffmpegs reading cameras and filling disks forever, and the next
 * start runs a second set beside them. On Linux the child is started through `setpriv
 * --pdeathsig KILL` (util-linux, essential on Debian), which asks the kernel to kill it when
 * its parent goes, then execs the program itself: same pid, same pipes. Where setpriv or
 * the program is missing, the program is spawned as before (a missing program still fails
 * with ENOENT, which callers turn into "install ffmpeg").
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

const SETPRIV = '/usr/bin/setpriv';
let setpriv: boolean | null = null;
const found = new Map<string, string | null>();

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The program's path as PATH finds it, or null. */
function resolve(cmd: string): string | null {
  if (isAbsolute(cmd) || cmd.includes('/')) return executable(cmd) ? cmd : null;
  if (!found.has(cmd)) {
    const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
    found.set(cmd, dirs.map((d) => join(d, cmd)).find(executable) ?? null);
  }
  return found.get(cmd)!;
}

export function spawnTethered(cmd: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  setpriv ??= process.platform === 'linux' && executable(SETPRIV);
  const path = setpriv ? resolve(cmd) : null;
  if (!path) return spawn(cmd, args, options);
  return spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', path, ...args], options);
}
