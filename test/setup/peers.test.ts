/**
 * Set-up on a bare machine (field finding): `npm ci` died compiling better-sqlite3 because
 * there was no python3, make or g++, and `npm start` then said "Cannot find package 'tsx'".
 * scripts/peers.sh decides what to install; here it runs in dry-run mode on a copy of the
 * project without node_modules, with a PATH that has only what the script itself needs.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../gateway/paths.ts';
import { havePeers } from '../peers/require.ts';
import { tempDir } from '../helpers/gateway.ts';

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((ok) =>
    execFile(cmd, args, { cwd, env, timeout: 60_000 }, (e, stdout, stderr) =>
      ok({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );

/** A bin folder with only these commands (resolved from this machine's PATH). */
function bareBin(dir: string, commands: string[]): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const c of commands) {
    const found = (process.env.PATH ?? '').split(':').map((p) => join(p, c));
    const real = found.find((f) => existsSync(f));
    if (real) symlinkSync(real, join(bin, c));
  }
  return bin;
}

/** A copy of the project's scripts/ with no node_modules: what a fresh clone looks like. */
function freshClone(): string {
  const dir = tempDir('gw-bare-');
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(ROOT, 'scripts', 'peers.sh'), join(dir, 'scripts', 'peers.sh'));
  return dir;
}

describe.runIf(havePeers('bash', 'dpkg-query'))('set-up decides what to install', () => {
  it('without gcc, python3 and make, set-up installs the build toolchain and says so in one line; mosquitto-clients too', async () => {
    const dir = freshClone();
    const bin = bareBin(dir, ['bash', 'dpkg-query', 'grep', 'id', 'dirname']);
    const r = await run(join(bin, 'bash'), [join(dir, 'scripts', 'peers.sh'), 'setup', '--dry-run'], { PATH: bin }, dir);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(
      'peers (setup): no python3/make/g++ to compile better-sqlite3; installing the build toolchain (build-essential python3)',
    );
    // Whatever else is missing here, the toolchain is in the list to install.
    const install = lines.find((l) => l.startsWith('peers (setup): would install')) ?? '';
    const inst = (p: string) =>
      run('dpkg-query', ['-W', '-f=${Status}', p], process.env).then((x) => x.stdout.includes('install ok installed'));
    for (const p of ['build-essential', 'python3', 'mosquitto-clients']) if (!(await inst(p))) expect(install.split(' ')).toContain(p);
    expect(install === '' ? lines.at(-1) : install).toMatch(/would install|all present/);
  });

  it('with the toolchain on PATH, or better-sqlite3 already built, no toolchain is installed', async () => {
    const dir = freshClone();
    const tools = ['python3', 'make', 'g++'];
    const bin = bareBin(dir, ['bash', 'dpkg-query', 'grep', 'id', 'dirname', ...tools]);
    const haveAll = tools.every((t) => existsSync(join(bin, t)));
    const r = await run(join(bin, 'bash'), [join(dir, 'scripts', 'peers.sh'), 'setup', '--dry-run'], { PATH: bin }, dir);
    expect(r.code).toBe(0);
    if (haveAll) expect(r.stdout).not.toContain('build toolchain');
    // Built already (as after a successful npm ci): nothing to compile, whatever the PATH.
    mkdirSync(join(dir, 'node_modules/better-sqlite3/build/Release'), { recursive: true });
    copyFileSync(join(ROOT, 'package.json'), join(dir, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'));
    const bare = bareBin(tempDir('gw-bare-bin-'), ['bash', 'dpkg-query', 'grep', 'id', 'dirname']);
    const r2 = await run(join(bare, 'bash'), [join(dir, 'scripts', 'peers.sh'), 'setup', '--dry-run'], { PATH: bare }, dir);
    expect(r2.code).toBe(0);
    expect(r2.stdout).not.toContain('build toolchain');
  });

  it('npm start without set-up says "run npm run setup first", not "Cannot find package \'tsx\'"', async () => {
    const dir = freshClone();
    copyFileSync(join(ROOT, 'scripts', 'start.mjs'), join(dir, 'scripts', 'start.mjs'));
    const r = await run(process.execPath, [join(dir, 'scripts', 'start.mjs')], { PATH: process.env.PATH }, dir);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('npm start: the npm packages are not installed; run npm run setup first');
  });
});
