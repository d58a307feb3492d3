/**
 * Fetching weights and sample images from a local mirror, with SHA-256 checks: small
 * synthetic assets in temp folders, and one look at the real list of assets.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { AssetError, fetchAll, fetchAsset, listAssets, sha256File, verify, type Asset } from '../../gateway/assets/fetch.ts';
import { MODELS_DIR } from '../../gateway/paths.ts';

const root = mkdtempSync(join(tmpdir(), 'gw-assets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
let mirror: string;
let dest: string;
beforeEach(() => {
  n++;
  mirror = join(root, `mirror-${n}`);
  dest = join(root, `dest-${n}`);
  mkdirSync(mirror, { recursive: true });
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A synthetic asset: pseudo-random bytes written to the mirror, with their hash. */
function asset(name: string, size = 4096): { asset: Asset; data: Buffer } {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 131 + name.length * 7) & 0xff;
  writeFileSync(join(mirror, name), data);
  return { asset: { file: name, sha256: sha(data), bytes: size }, data };
}

describe('fetchAsset', () => {
  it('copies from the mirror, then reports present on the second run', async () => {
    const { asset: a, data } = asset('weights.onnx');
    const r1 = await fetchAsset(a, dest, mirror);
    expect(r1).toEqual({ file: 'weights.onnx', status: 'copied', from: join(mirror, 'weights.onnx') });
    expect(readFileSync(join(dest, 'weights.onnx')).equals(data)).toBe(true);
    const r2 = await fetchAsset(a, dest, mirror);
    expect(r2).toEqual({ file: 'weights.onnx', status: 'present' });
    // Present even when the mirror has gone.
    rmSync(mirror, { recursive: true });
    expect((await fetchAsset(a, dest)).status).toBe('present');
    // No temporary files are left behind.
    expect(readdirSync(dest)).toEqual(['weights.onnx']);
  });

  it('refuses a truncated file in the mirror, naming the file and the SHA-256 mismatch', async () => {
    const { asset: a, data } = asset('model.onnx', 10_000);
    writeFileSync(join(mirror, 'model.onnx'), data.subarray(0, 6000));
    const err = await fetchAsset(a, dest, mirror).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(AssetError);
    expect(err!.message).toContain('model.onnx');
    expect(err!.message).toContain('SHA-256 mismatch');
    expect(err!.message).toContain(join(mirror, 'model.onnx'));
    expect(err!.message).toContain('6000 bytes, expected 10000');
    // Nothing (not even a partial file) carries the real name.
    expect(existsSync(join(dest, 'model.onnx'))).toBe(false);
    expect(existsSync(dest) ? readdirSync(dest) : []).toEqual([]);
  });

  it('re-fetches an existing destination that was altered', async () => {
    const { asset: a, data } = asset('labels.txt', 512);
    await fetchAsset(a, dest, mirror);
    const altered = Buffer.from(data);
    altered[100] ^= 0xff;
    writeFileSync(join(dest, 'labels.txt'), altered);
    const r = await fetchAsset(a, dest, mirror);
    expect(r.status).toBe('copied');
    expect(readFileSync(join(dest, 'labels.txt')).equals(data)).toBe(true);
  });

  it('re-fetches over a read-only copy (mirrors are often read-only)', async () => {
    const { asset: a, data } = asset('ro.bin', 256);
    chmodSync(join(mirror, 'ro.bin'), 0o444);
    await fetchAsset(a, dest, mirror);
    // The copy may have inherited the read-only mode; damage it anyway (replace it).
    rmSync(join(dest, 'ro.bin'));
    writeFileSync(join(dest, 'ro.bin'), 'garbage', { mode: 0o444 });
    expect((await fetchAsset(a, dest, mirror)).status).toBe('copied');
    expect(readFileSync(join(dest, 'ro.bin')).equals(data)).toBe(true);
  });

  it('missing from the mirror with no URL is a clear error', async () => {
    const a: Asset = { file: 'absent.onnx', sha256: '0'.repeat(64) };
    const err = await fetchAsset(a, dest, mirror).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(AssetError);
    expect(err!.message).toBe(`absent.onnx: not in mirror ${mirror} and no URL to download from`);
    const err2 = await fetchAsset(a, dest).then(
      () => null,
      (e: Error) => e,
    );
    expect(err2!.message).toContain('absent.onnx: not in mirror (none set; use GATEWAY_MIRROR)');
  });

  it('a download that cannot connect names the file and the URL', async () => {
    // Port 9 on loopback: nothing listens, so the connection is refused at once.
    const a: Asset = { file: 'remote.bin', sha256: '0'.repeat(64), url: 'http://127.0.0.1:9/remote.bin' };
    const err = await fetchAsset(a, dest, mirror).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(AssetError);
    expect(err!.message).toContain('remote.bin: download from http://127.0.0.1:9/remote.bin failed');
    expect(err!.message).toContain(`not in mirror ${mirror} either`);
  });
});

describe('verify and sha256File', () => {
  it('hashes a file like node:crypto does', async () => {
    const { data } = asset('h.bin', 70_000);
    expect(await sha256File(join(mirror, 'h.bin'))).toBe(sha(data));
  });

  it('a missing file says how to fetch it', async () => {
    const p = join(mirror, 'nope.bin');
    await expect(verify({ file: 'nope.bin', sha256: '0'.repeat(64) }, p)).rejects.toThrow(
      `nope.bin: missing (${p}); run: gateway models fetch`,
    );
  });

  it('a same-size altered file is a mismatch without the truncation note', async () => {
    const { asset: a, data } = asset('same.bin', 100);
    data[0] ^= 1;
    writeFileSync(join(mirror, 'same.bin'), data);
    const err = await verify(a, join(mirror, 'same.bin')).then(
      () => null,
      (e: Error) => e,
    );
    expect(err!.message).toContain('same.bin: SHA-256 mismatch');
    expect(err!.message).toContain(`got ${sha(data)}; 100 bytes`);
    expect(err!.message).not.toContain('truncated');
  });
});

describe('fetchAll', () => {
  it('fetches every asset of a models folder and collects all errors', async () => {
    const models = join(root, `models-${n}`);
    mkdirSync(models);
    const good = asset('good.bin', 300).asset;
    const bad = asset('bad.bin', 300).asset;
    writeFileSync(join(mirror, 'bad.bin'), 'short');
    writeFileSync(join(models, 'assets.json'), JSON.stringify({ assets: [good, bad, { file: 'gone.bin', sha256: 'a'.repeat(64) }] }));
    const err = await fetchAll({ dir: dest, mirror, modelsDir: models }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(AssetError);
    expect(err!.message).toMatch(/bad\.bin: SHA-256 mismatch/);
    expect(err!.message).toMatch(/gone\.bin: not in mirror/);
    expect(existsSync(join(dest, 'good.bin'))).toBe(true);
    const ok = await fetchAll({ dir: dest, mirror, modelsDir: models, only: ['good.bin'] });
    expect(ok).toEqual([{ file: 'good.bin', status: 'present' }]);
  });
});

describe('listAssets (real models folder)', () => {
  it('lists the three models (one built from another) and the four sample images, each with a SHA-256', () => {
    const files = listAssets().map((a) => a.file);
    expect(files.filter((f) => f.endsWith('.onnx')).sort()).toEqual(['nanodet_m.onnx', 'yolox_nano.onnx', 'yolox_nano_int8.onnx']);
    expect(files.filter((f) => !f.endsWith('.onnx')).sort()).toEqual(['bus.jpg', 'dog.jpg', 'person.jpg', 'street.png']);
    for (const a of listAssets()) expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(listAssets(MODELS_DIR)).toHaveLength(7);
  });

  it('the fetched real files verify against the list', async () => {
    const files = join(MODELS_DIR, 'files');
    // A built model (the int8 one) is there once `gateway models fetch` has built it; its build is checked in int8-agreement.test.ts.
    for (const a of listAssets().filter((x) => !x.build || existsSync(join(files, x.file))))
      await expect(verify(a, join(files, a.file))).resolves.toBeUndefined();
  });
});
