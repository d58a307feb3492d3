/** Where the gateway's own files live, independent of the working directory. */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MODELS_DIR = resolve(ROOT, 'models');

/** Fetched weights and sample images; never committed. */
export function filesDir(configured?: string): string {
  return resolve(configured ?? process.env.GATEWAY_MODELS_DIR ?? resolve(MODELS_DIR, 'files'));
}

export function mirrorDir(configured?: string): string | undefined {
  const m = configured ?? process.env.GATEWAY_MIRROR;
  return m ? resolve(m) : undefined;
}
