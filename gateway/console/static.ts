/**
 * The console's page and its libraries, all from this box (it is often air-gapped):
 * our own ES modules from gateway/console/web/, Preact, htm and uPlot straight from
 * their node_modules files through the page's import map. No build step.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../paths.ts';

const WEB = join(dirname(fileURLToPath(import.meta.url)), 'web');
const pkg = (name: string) => join(ROOT, 'node_modules', name);

const VENDOR: Record<string, () => string> = {
  'preact.mjs': () => join(pkg('preact'), 'dist', 'preact.mjs'),
  'hooks.mjs': () => join(pkg('preact'), 'hooks', 'dist', 'hooks.mjs'),
  'htm.mjs': () => join(pkg('htm'), 'dist', 'htm.mjs'),
  'uplot.mjs': () => join(pkg('uplot'), 'dist', 'uPlot.esm.js'),
  'uplot.css': () => join(pkg('uplot'), 'dist', 'uPlot.min.css'),
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export function serveAsset(pathname: string, req: IncomingMessage, res: ServerResponse): void {
  const rel = pathname.slice('/console/'.length);
  let file: string | null = null;
  if (rel === '' || rel === 'index.html') file = join(WEB, 'index.html');
  else if (rel.startsWith('vendor/')) file = VENDOR[rel.slice('vendor/'.length)]?.() ?? null;
  else {
    const f = normalize(join(WEB, rel));
    if (f.startsWith(WEB + sep)) file = f;
  }
  let size = 0;
  try {
    if (file) size = statSync(file).isFile() ? statSync(file).size : 0;
  } catch {
    size = 0;
  }
  if (!file || !size) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    return void res.end(`not found: ${pathname}`);
  }
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': size,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    // Everything the page loads comes from here; nothing from outside but configured map tiles.
    'content-security-policy':
      "default-src 'self'; img-src 'self' data: http: https:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
    'x-frame-options': 'DENY',
  });
  res.end(req.method === 'HEAD' ? undefined : readFileSync(file));
}
