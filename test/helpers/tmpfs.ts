/**
 * A small tmpfs, for a data_dir that really fills up or is really read-only. Mounting
 * needs root (CI runs as root; scripts/peers.sh uses sudo otherwise): on a developer box
 * without it the tests that need one skip, loudly; under CI=true that is a failure.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Fills the file system, leaving about `leaveBytes` free; returns the filler's path. */
  fill(leaveBytes?: number): string;
  free(): number;
  unmount(): void;
}

export function canMountTmpfs(): boolean {
  try {
    const t = mountTmpfs(64 * 1024);
    t.unmount();
    return true;
  } catch (e) {
    const msg = `cannot mount a tmpfs (root needed): ${(e as Error).message.split('\n')[0]}`;
    if (process.env.CI === 'true') throw new Error(msg);
    console.warn(`SKIP: ${msg}`);
    return false;
  }
}

export function mountTmpfs(bytes: number, o: { readOnly?: boolean } = {}): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'gw-tmpfs-'));
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const args = ['mount', '-t', 'tmpfs', '-o', `size=${bytes},mode=0755${o.readOnly ? ',ro' : ''}`, 'tmpfs', dir];
  execFileSync(sudo[0] ?? args[0], [...sudo.slice(1), ...(sudo.length ? args : args.slice(1))], { stdio: 'pipe' });
  let n = 0;
  const free = () => {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    free,
    fill(leaveBytes = 0) {
      const f = join(dir, `filler-${n++}`);
      const size = Math.max(0, free() - leaveBytes);
      try {
        writeFileSync(f, Buffer.alloc(size, 1));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
      return f;
    },
    unmount() {
      execFileSync(sudo[0] ?? 'umount', [...sudo.slice(1), ...(sudo.length ? ['umount', dir] : [dir])], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
