/**
 * The namespace helper of the onvif-util cross-check (test/peers/onvif/netns.ts): a child
 * that exits before reading its input is no uncaught EPIPE, and a refused `unshare -rn`
 * (a chroot, some containers) is called that, not blamed on AppArmor.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { explainFailure, run } from './onvif/netns.ts';
import { tempDir } from '../helpers/gateway.ts';

describe('netns helper', () => {
  it('a child that exits at once, before reading a large input, resolves with its output (no EPIPE)', async () => {
    // 4 MB does not fit a pipe: the write is still going when `sh` exits.
    const out = await run('sh', ['-c', 'echo refused >&2; exit 1'], 'x'.repeat(4 << 20), 10_000);
    expect(out).toContain('refused');
  });

  it('unshare refused in a chroot says so, without blaming AppArmor', () => {
    const chroot = 'unshare: unshare failed: Operation not permitted\n';
    const noSwitch = join(tempDir('gw-netns-'), 'absent');
    const msg = explainFailure(chroot, noSwitch);
    expect(msg).toMatch(/`unshare -rn` was refused: this system does not allow unprivileged user namespaces here \(inside a chroot/);
    expect(msg).not.toMatch(/AppArmor/i);
    expect(msg).toContain(chroot);
  });

  it('names AppArmor only where its restriction is switched on', () => {
    const sw = join(tempDir('gw-netns-'), 'apparmor_restrict_unprivileged_userns');
    writeFileSync(sw, '1\n');
    expect(explainFailure('unshare: write failed /proc/self/uid_map: Operation not permitted', sw)).toMatch(/AppArmor restricts/);
    writeFileSync(sw, '0\n');
    expect(explainFailure('unshare: write failed /proc/self/uid_map: Operation not permitted', sw)).not.toMatch(/AppArmor/);
  });
});
