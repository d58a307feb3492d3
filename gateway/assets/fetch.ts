/**
 * Brings model weights and sample images onto the box: from a local mirror folder when
 * there is one (air-gapped boxes, CI), else from the pinned URL. Every file is checked
 * against its SHA-256 before it is used; a wrong or truncated file is refused by name.
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { MODELS_DIR } from '../paths.ts';
import { loadManifest } from '../detect/manifest.ts';
import { buildInt8, type Int8Recipe } from '../detect/int8.ts';

export interface Asset {
  file: string;
  sha256: string;
  bytes?: number;
  url?: string;
  what?: string;
  /** Made on the box from another asset (the int8 model from the fp32 one) with a recipe file. */
  build?: { from: Asset; recipe: string };
}

export class AssetError extends Error {}

export function sha256File(path: string): Promise<string> {
  return new Promise((ok, fail) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('end', () => ok(h.digest('hex')))
      .on('error', fail);
  });
}

/** Every file the gateway may need: the weights of each manifest, and the sample images. */
export function listAssets(modelsDir = MODELS_DIR): Asset[] {
  const out: Asset[] = [];
  for (const f of readdirSync(modelsDir).sort()) {
    if (!f.endsWith('.json') || f === 'assets.json' || f.endsWith('.recipe.json')) continue;
    const m = loadManifest(join(modelsDir, f), modelsDir);
    let build: Asset['build'];
    if (m.build) {
      const from = loadManifest(m.build.from, modelsDir);
      build = {
        from: { file: from.file, sha256: from.sha256, bytes: from.bytes, url: from.url, what: from.description },
        recipe: resolve(dirname(m.path), m.build.recipe),
      };
    }
    out.push({ file: m.file, sha256: m.sha256, bytes: m.bytes, url: m.url, what: m.description, ...(build ? { build } : {}) });
  }
  const assetsFile = join(modelsDir, 'assets.json');
  if (existsSync(assetsFile)) out.push(...(JSON.parse(readFileSync(assetsFile, 'utf8')).assets as Asset[]));
  return out;
}

/** Throws AssetError naming the file when it is missing, truncated or altered. */
export async function verify(asset: Asset, path: string, source = path): Promise<void> {
  if (!existsSync(path)) throw new AssetError(`${asset.file}: missing (${path}); run: gateway models fetch`);
  const size = statSync(path).size;
  const got = await sha256File(path);
  if (got === asset.sha256) return;
  const sizeNote =
    asset.bytes && size !== asset.bytes ? `; it has ${size} bytes, expected ${asset.bytes} (truncated or wrong file)` : `; ${size} bytes`;
  throw new AssetError(`${asset.file}: SHA-256 mismatch for ${source}: expected ${asset.sha256}, got ${got}${sizeNote}`);
}

export interface FetchReport {
  file: string;
  status: 'present' | 'copied' | 'downloaded' | 'built';
  from?: string;
}

/** Fetches one asset into `dir` atomically: a half-written file never carries the real name. */
export async function fetchAsset(asset: Asset, dir: string, mirror?: string): Promise<FetchReport> {
  const dest = resolve(dir, asset.file);
  if (existsSync(dest)) {
    try {
      await verify(asset, dest);
      return { file: asset.file, status: 'present' };
    } catch {
      // A stale or damaged copy: fetch it again below.
    }
  }
  mkdirSync(dir, { recursive: true });
  const tmp = `${dest}.part-${process.pid}`;
  let from: string;
  let status: FetchReport['status'];
  try {
    if (mirror && existsSync(join(mirror, asset.file))) {
      from = join(mirror, asset.file);
      copyFileSync(from, tmp);
      status = 'copied';
    } else if (asset.build) {
      // Built from its source weights, which are fetched (and checked) first.
      await fetchAsset(asset.build.from, dir, mirror);
      from = `${asset.build.from.file} with ${asset.build.recipe}`;
      const recipe = JSON.parse(readFileSync(asset.build.recipe, 'utf8')) as Int8Recipe;
      writeFileSync(tmp, await buildInt8(readFileSync(resolve(dir, asset.build.from.file)), recipe));
      status = 'built';
    } else if (asset.url) {
      from = asset.url;
      const res = await fetch(asset.url, { signal: AbortSignal.timeout(120_000) }).catch((e: Error) => {
        throw new AssetError(
          `${asset.file}: download from ${asset.url} failed: ${e.message}${mirror ? ` (not in mirror ${mirror} either)` : '; set GATEWAY_MIRROR to a local mirror folder'}`,
        );
      });
      if (!res.ok) throw new AssetError(`${asset.file}: download from ${asset.url} failed: HTTP ${res.status}`);
      writeFileSync(tmp, Buffer.from(await res.arrayBuffer()));
      status = 'downloaded';
    } else {
      throw new AssetError(`${asset.file}: not in mirror ${mirror ?? '(none set; use GATEWAY_MIRROR)'} and no URL to download from`);
    }
    await verify(asset, tmp, from);
    renameSync(tmp, dest);
    return { file: asset.file, status, from };
  } finally {
    rmSync(tmp, { force: true });
  }
}

export async function fetchAll(opts: { dir: string; mirror?: string; modelsDir?: string; only?: string[] }): Promise<FetchReport[]> {
  const assets = listAssets(opts.modelsDir).filter((a) => !opts.only || opts.only.includes(a.file));
  const reports: FetchReport[] = [];
  const errors: string[] = [];
  for (const a of assets) {
    try {
      reports.push(await fetchAsset(a, opts.dir, opts.mirror));
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (errors.length) throw new AssetError(errors.join('\n'));
  return reports;
}
