/**
 * The command launcher: short commands run from its own small process (a fork from the
 * gateway stalls every camera for as long as copying the gateway's memory map takes), with
 * their output, exit code, stderr, stdin, time limit and spawn errors as spawn gives them,
 * and evidence work at a lower priority than the analysis.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { getPriority } from 'node:os';
import { runCommand, stopLauncher, warmLauncher } from '../../devices/util/launcher.ts';

afterEach(() => {
  delete process.env.GW_LAUNCHER;
});

const ppidOf = async () => Number((await runCommand('sh', ['-c', 'echo $PPID'])).stdout.toString().trim());

describe('the command launcher', () => {
  it('runs a command from its own process, not from this one', async () => {
    warmLauncher();
    const ppid = await ppidOf();
    expect(ppid).toBeGreaterThan(0);
    expect(ppid).not.toBe(process.pid);
    // Its parent is the launcher, whose parent is this process.
    const stat = await runCommand('sh', ['-c', `cut -d' ' -f4 /proc/${ppid}/stat`]);
    expect(Number(stat.stdout.toString().trim())).toBe(process.pid);
  });

  it('passes stdin in and stdout out byte for byte, and ffmpeg runs', async () => {
    const data = randomBytes(1 << 20);
    const r = await runCommand('cat', [], { input: data });
    expect(r.code).toBe(0);
    expect(r.stdout.equals(data)).toBe(true);
    const v = await runCommand('ffmpeg', ['-hide_banner', '-version']);
    expect(v.code).toBe(0);
    expect(v.stdout.toString()).toMatch(/^ffmpeg version/);
  });

  it('gives the exit code and the end of stderr of a command that fails', async () => {
    const r = await runCommand('ffmpeg', ['-hide_banner', '-i', '/nonexistent/clip.mp4']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('/nonexistent/clip.mp4: No such file or directory');
  });

  it('kills a command that outlives its time', async () => {
    const t0 = Date.now();
    const r = await runCommand('sleep', ['10'], { timeoutMs: 300 });
    expect(r.signal).toBe('SIGKILL');
    expect(r.code).toBeNull();
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('rejects a program that is not installed with ENOENT, as spawn does', async () => {
    await expect(runCommand('no-such-program-here', [])).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('survives its helper being killed: the command under way fails with its name, the next one runs', async () => {
    const helper = await ppidOf();
    const running = runCommand('sleep', ['5']);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(helper, 'SIGKILL');
    await expect(running).rejects.toThrow(/launcher exited .* while sleep ran/);
    const again = await ppidOf();
    expect(again).toBeGreaterThan(0);
    expect(again).not.toBe(helper);
    expect(again).not.toBe(process.pid);
  });

  it('runs evidence commands at a lower priority when asked (nice), from the helper and here', async () => {
    // The shell waits a moment so that the priority is set before it asks for it.
    const niceOf = async (o: { nice?: number }) => Number((await runCommand('sh', ['-c', 'sleep 0.2; nice'], o)).stdout.toString().trim());
    warmLauncher();
    expect(await niceOf({})).toBe(getPriority()); // as this process runs
    expect(await niceOf({ nice: 10 })).toBe(10);
    process.env.GW_LAUNCHER = 'inline';
    stopLauncher();
    expect(await niceOf({ nice: 10 })).toBe(10);
  });

  it('runs here when told to (GW_LAUNCHER=inline), with the same results', async () => {
    stopLauncher();
    process.env.GW_LAUNCHER = 'inline';
    const r = await runCommand('sh', ['-c', 'echo $PPID; echo oops >&2; exit 3']);
    expect(Number(r.stdout.toString().split('\n')[0])).toBe(process.pid);
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe('oops');
    await expect(runCommand('no-such-program-here', [])).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
