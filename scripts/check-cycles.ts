/**
 * Fails on any import cycle among the project's TypeScript files (type-only imports
 * count too: a cycle of types is still a knot to untangle). Run by `npm run lint`.
 * Uses the TypeScript scanner already in devDependencies, so no extra tool is needed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const DIRS = ['gateway', 'devices', 'scripts', 'test', 'bin'];

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (n === 'node_modules') return [];
    if (statSync(p).isDirectory()) return files(p);
    return /\.(ts|mts)$/.test(n) && !n.endsWith('.d.ts') ? [p] : [];
  });
}

const all = DIRS.flatMap((d) => files(join(ROOT, d)));
const graph = new Map<string, string[]>();
for (const f of all) {
  const { importedFiles } = ts.preProcessFile(readFileSync(f, 'utf8'), true, true);
  const deps = importedFiles
    .map((i) => i.fileName)
    .filter((n) => n.startsWith('.'))
    .map((n) => resolve(dirname(f), n))
    .filter((p) => graph.has(p) || all.includes(p));
  graph.set(f, deps);
}

// Tarjan's strongly connected components: any component of more than one file (or a file importing itself) is a cycle.
let index = 0;
const idx = new Map<string, number>();
const low = new Map<string, number>();
const stack: string[] = [];
const on = new Set<string>();
const cycles: string[][] = [];
function visit(v: string): void {
  idx.set(v, index);
  low.set(v, index++);
  stack.push(v);
  on.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!idx.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v)!, low.get(w)!));
    } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
  }
  if (low.get(v) === idx.get(v)) {
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      on.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || graph.get(v)?.includes(v)) cycles.push(scc.map((p) => relative(ROOT, p)).sort());
  }
}
for (const f of graph.keys()) if (!idx.has(f)) visit(f);

if (cycles.length) {
  for (const c of cycles) console.error(`import cycle among: ${c.join(', ')}`);
  process.exit(1);
}
console.log(`no import cycles in ${graph.size} files`);
