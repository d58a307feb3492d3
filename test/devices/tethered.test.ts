/**
 * A camera's ffmpeg dies with the gateway: a parent killed outright (kill -9) takes its
 * tethered children with it, where a plain spawn leaves them running.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnTethered } from '../../devices/util/tethered.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

/** A Node parent that starts `sleep 60` (tethered or not), prints its pid, and waits. */
async function parentWithChild(tethered: boolean): Promise<{ parent: number; child: number }> {
  const code = `
    import { spawn } from 'node:child_process';
    import { spawnTethered } from ${JSON.stringify(join(ROOT, 'devices/util/tethered.ts'))};
    const c = ${tethered ? 'spawnTethered' : 'spawn'}('sleep', ['60'], { stdio: 'ignore' });
    console.log(c.pid);
    setInterval(() => {}, 1000);`;
  const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pid = await new Promise<number>((ok, fail) => {
    p.stdout!.setEncoding('utf8').once('data', (d: string) => ok(Number(d.trim())));
    p.once('exit', (c) => fail(new Error(`parent exited (${c}) before starting its child`)));
  });
  return { parent: p.pid!, child: pid };
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const by = Date.now() + ms;
  while (Date.now() < by) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

describe.runIf(process.platform === 'linux')('tethered children', () => {
  it('die when their parent is killed with SIGKILL; plain ones are left running', async () => {
    const t = await parentWithChild(true);
    const p = await parentWithChild(false);
    try {
      expect(alive(t.child)).toBe(true);
      // setpriv has exec'd the program itself: the pid is the program's.
      expect(
        await until(
          () =>
            readFileSync(`/proc/${t.child}/cmdline`, 'latin1').startsWith('/usr/bin/sleep') ||
            readFileSync(`/proc/${t.child}/cmdline`, 'latin1').startsWith('/bin/sleep'),
          3000,
        ),
      ).toBe(true);
      process.kill(t.parent, 'SIGKILL');
      process.kill(p.parent, 'SIGKILL');
      expect(await until(() => !alive(t.child), 3000)).toBe(true);
      expect(alive(p.child)).toBe(true);
    } finally {
      for (const pid of [t.child, p.child]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('a program that is not installed fails with ENOENT, as a plain spawn does', async () => {
    const c = spawnTethered('no-such-program-here', [], { stdio: 'ignore' });
    const err = await new Promise<NodeJS.ErrnoException>((ok) => c.once('error', ok));
    expect(err.code).toBe('ENOENT');
  });
});
