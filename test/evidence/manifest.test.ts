/**
 * The parts of evidence that need no video: the box key (made once, 0600, reused), the
 * archive format (tar that system tar reads), the manifest chain with an event removed
 * from its middle, the blur regions chosen from the detector's boxes, and the settings
 * checks with file:line messages.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/gateway.ts';
import { loadOrCreateKey } from '../../gateway/evidence/keys.ts';
import { readTar, writeTar } from '../../gateway/evidence/tar.ts';
import { FORMAT, sealManifest, sha256, type Manifest } from '../../gateway/evidence/manifest.ts';
import { verifyArchives } from '../../gateway/evidence/verify.ts';
import { privacyRegions } from '../../gateway/evidence/redact.ts';
import { parseSettings, ConfigError } from '../../gateway/settings/load.ts';

function manifest(seq: number, prev: string | null, key: string): Manifest {
  return {
    format: FORMAT,
    chain: { seq, prev_sha256: prev },
    gateway: { id: 'gw', version: '0', key_sha256: key },
    event: {
      id: `EV${seq}`,
      seq,
      type: 'illegal_parking',
      camera: 'c',
      zone: 'z',
      rule: {},
      box: [0, 0, 1, 1],
      state: 'closed',
      reason: null,
      first_seen_at: new Date(0).toISOString(),
      confirmed_at: new Date(0).toISOString(),
      closed_at: new Date(0).toISOString(),
    },
    items: [],
    missing: [],
    sealed_at: new Date(0).toISOString(),
  };
}

describe('the box key', () => {
  it('is made once, kept 0600, and the same key after a restart', () => {
    const dir = tempDir('gw-key-');
    const a = loadOrCreateKey(dir);
    expect(statSync(a.file).mode & 0o777).toBe(0o600);
    const b = loadOrCreateKey(dir);
    expect(b.fingerprint).toBe(a.fingerprint);
    chmodSync(a.file, 0o644); // copied in carelessly
    loadOrCreateKey(dir);
    expect(statSync(a.file).mode & 0o777).toBe(0o600);
  });

  it('names the file when it is not a key', () => {
    const dir = tempDir('gw-key-');
    writeFileSync(join(dir, 'evidence-key.pem'), 'hello');
    expect(() => loadOrCreateKey(dir)).toThrow(/evidence-key.pem: not a private key PEM/);
  });
});

describe('archives and the chain', () => {
  const dir = tempDir('gw-chain-');
  const key = loadOrCreateKey(dir);
  const archive = (m: Manifest) => {
    const s = sealManifest(m, key.privateKey);
    return {
      sha: s.sha256,
      tar: writeTar([
        { name: 'manifest.json', data: s.body },
        { name: 'manifest.sig', data: s.signature },
        { name: 'public-key.pem', data: Buffer.from(key.publicPem) },
      ]),
    };
  };
  const one = archive(manifest(1, null, key.fingerprint));
  const two = archive(manifest(2, one.sha, key.fingerprint));
  const three = archive(manifest(3, two.sha, key.fingerprint));

  it('writes tar that the system tar reads', () => {
    const f = join(dir, 'a.tar');
    writeFileSync(f, writeTar([{ name: 'items/x.txt', data: Buffer.from('evidence') }]));
    mkdirSync(join(dir, 'x'));
    execFileSync('tar', ['-xf', f, '-C', join(dir, 'x')]);
    expect(readFileSync(join(dir, 'x', 'items', 'x.txt'), 'utf8')).toBe('evidence');
    expect(readTar(readFileSync(f))[0]).toMatchObject({ name: 'items/x.txt' });
    expect(() => readTar(Buffer.alloc(1024, 7), 'junk.tar')).toThrow(/junk.tar: not a tar archive/);
  });

  it('verifies consecutive archives, and names the gap when the middle event was removed', () => {
    const all = verifyArchives([
      { name: '1.tar', data: one.tar },
      { name: '2.tar', data: two.tar },
      { name: '3.tar', data: three.tar },
    ]);
    expect(all.problems).toEqual([]);
    expect(all.lines).toContain('chain: manifests 1..3 link without a gap');
    const gap = verifyArchives([
      { name: '1.tar', data: one.tar },
      { name: '3.tar', data: three.tar },
    ]);
    expect(gap.ok).toBe(false);
    expect(gap.problems).toEqual([
      'chain broken between manifest 1 (event EV1) and 3 (event EV3): 1 manifest missing, an event was removed or not given',
    ]);
  });

  it('notices a manifest replaced by another one with the same number', () => {
    const other = archive({ ...manifest(2, one.sha, key.fingerprint), event: { ...manifest(2, null, '').event, id: 'FAKE' } });
    const r = verifyArchives([
      { name: '1.tar', data: one.tar },
      { name: '2b.tar', data: other.tar },
      { name: '3.tar', data: three.tar },
    ]);
    expect(r.problems.join('\n')).toMatch(
      /chain broken at manifest 3 \(event EV3\): it follows a manifest with SHA-256 .* but manifest 2 \(event FAKE\)/,
    );
  });

  it('refuses an archive signed by another key than the pinned one', () => {
    const r = verifyArchives([{ name: '1.tar', data: one.tar }], loadOrCreateKey(tempDir('gw-key-')).publicPem);
    expect(r.problems[0]).toMatch(/^1.tar: signed by key [0-9a-f]{64}, not the pinned key/);
    expect(sha256('x')).toHaveLength(64);
  });
});

describe('blur regions', () => {
  it('take the head of people and the plate area of vehicles, never the subject or other things', () => {
    const subject = [0.5, 0.6, 0.8, 0.9] as const;
    const r = privacyRegions(
      [
        { label: 'car', box: [0.5, 0.6, 0.8, 0.9] }, // the subject
        { label: 'person', box: [0.1, 0.2, 0.2, 0.8] },
        { label: 'car', box: [0.0, 0.5, 0.3, 0.7] },
        { label: 'umbrella', box: [0.3, 0.1, 0.4, 0.2] },
      ],
      subject,
    );
    expect(r).toHaveLength(2);
    const [head, plate] = r;
    expect(head[1]).toBeLessThan(0.2 + 0.01);
    expect(head[3]).toBeCloseTo(0.2 + 0.45 * 0.6, 5); // the upper 45% of the person
    expect(plate[1]).toBeCloseTo(0.6, 5); // the lower half of the car
    expect(plate[3]).toBeGreaterThan(0.7 - 0.001);
  });
});

describe('evidence settings', () => {
  const issues = (yaml: string) => {
    try {
      parseSettings(yaml, '/etc/gateway/settings.yaml', {});
      return [];
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return e.message.split('\n');
    }
  };

  it('have defaults: the ring on, 10 s either side, retention per class', () => {
    const s = parseSettings('gateway: { id: g }\n', '/x/settings.yaml', {}).settings.evidence;
    expect(s).toEqual({
      ring: { enabled: true, segment_s: 2, keep_s: 60 },
      clip: { before_s: 10, after_s: 10 },
      retention_days: { clips: 30, stills: 180, audio: 180, unredacted: 30, closed_events: 365 },
      disk: { min_free_mb: 512, check_s: 60 },
    });
  });

  it('refuse a ring too short for the clip, originals kept past the events, and bad values, naming file and line', () => {
    expect(issues('evidence:\n  ring: { keep_s: 20 }\n')).toEqual([
      '/etc/gateway/settings.yaml:2:19: evidence.ring.keep_s: the ring keeps 20 s, but a clip of 10 s before to 10 s after needs at least 24 s (before + after + two segments)',
    ]);
    expect(issues('evidence:\n  retention_days: { unredacted: 400 }\n')[0]).toMatch(
      /settings.yaml:2:\d+: evidence.retention_days.unredacted: unredacted kept 400 days, longer than closed_events \(365 days\)/,
    );
    expect(issues('evidence:\n  retention_days: { clips: 0 }\n')[0]).toMatch(/settings.yaml:2:\d+: evidence.retention_days.clips: .*0.01/);
    expect(issues('evidence:\n  disk: { min_free: 5 }\n')[0]).toMatch(
      /evidence.disk.min_free: unknown key \(known keys: min_free_mb, check_s\)/,
    );
  });

  it('refuse a retention floor at or under the picture floor, since retention would start only after pictures stopped', () => {
    expect(issues('gateway: { evidence_min_free_mb: 600 }\nevidence:\n  disk: { min_free_mb: 512 }\n')[0]).toMatch(
      /settings.yaml:3:\d+: evidence.disk.min_free_mb: retention starts freeing space at 512 MB free, but pictures already stop at 600 MB \(gateway.evidence_min_free_mb\)/,
    );
    expect(issues('gateway: { evidence_min_free_mb: 100 }\nevidence:\n  disk: { min_free_mb: 512 }\n')).toEqual([]);
  });
});
