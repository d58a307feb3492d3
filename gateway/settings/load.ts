/**
 * Reads the one YAML settings file. Every problem is reported with the file, the line
 * and the key path, all at once, so a technician fixes the file in one pass.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Document, type Node } from 'yaml';
import { SettingsSchema, type Settings } from './schema.ts';
import { compile, dotted, pathOf, describe } from '../validate.ts';
import { checkSemantics } from './semantics.ts';
import { foldCoordinateIssues } from './semantics-zones.ts';
import type { ConfigIssue } from './issues.ts';

export type { ConfigIssue } from './issues.ts';

export interface LoadOptions {
  /** Start despite containable issues; they come back in `warnings`. */
  contain?: boolean;
  /** `gateway check` and `run`: a box's settings must name a camera (tools such as `speaker test` need none). */
  requireCameras?: boolean;
}

export class ConfigError extends Error {
  readonly file: string;
  readonly issues: ConfigIssue[];
  constructor(file: string, issues: ConfigIssue[]) {
    super(issues.map((i) => formatIssue(file, i)).join('\n'));
    this.name = 'ConfigError';
    this.file = file;
    this.issues = issues;
  }
}

export function formatIssue(file: string, i: ConfigIssue): string {
  const where = i.line ? `${file}:${i.line}${i.col ? `:${i.col}` : ''}` : file;
  const key = dotted(i.path);
  return `${where}: ${key ? `${key}: ` : ''}${i.message}`;
}

export interface LoadedSettings {
  settings: Settings;
  file: string;
  dir: string;
  /** Resolves a path from the settings against the settings file's folder. */
  resolvePath(p: string): string;
  /** Containable issues let through by `contain`, formatted with file and line. */
  warnings?: string[];
}

/** `${NAME}` and `${NAME:-default}` in any string take their value from the environment. */
function substituteEnv(value: unknown, path: (string | number)[], env: NodeJS.ProcessEnv, issues: ConfigIssue[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def?: string) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (def !== undefined) return def;
      issues.push({ path, message: `environment variable ${name} is not set` });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, [...path, i], env, issues));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, [...path, k], env, issues)]));
  return value;
}

/** The deepest YAML node that exists along `path`; for an unknown key, the key itself. */
function nodeAt(doc: Document, path: (string | number)[]): Node | undefined {
  let node: unknown = doc.contents;
  let found: Node | undefined = doc.contents ?? undefined;
  for (const p of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(p));
      if (!pair) break;
      found = (pair.key as Node) ?? found;
      node = pair.value;
      if (pair.value && (isMap(pair.value) || isSeq(pair.value) || isScalar(pair.value))) found = pair.value as Node;
    } else if (isSeq(node)) {
      const item = node.items[Number(p)];
      if (!item) break;
      node = item;
      found = item as Node;
    } else break;
  }
  return found;
}

function locate(doc: Document, lc: LineCounter, issue: ConfigIssue, keyOnly = false): ConfigIssue {
  let node = nodeAt(doc, issue.path);
  if (keyOnly && isMap(doc.contents)) {
    // For an unknown key point at the key, not at its value.
    const parent = nodeAt(doc, issue.path.slice(0, -1));
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && String(it.key.value) === String(issue.path.at(-1)));
      if (pair) node = pair.key as Node;
    }
  }
  const offset = node?.range?.[0];
  if (offset === undefined) return issue;
  const pos = lc.linePos(offset);
  return { ...issue, line: pos.line, col: pos.col };
}

function closest(word: string, options: string[]): string | undefined {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length][b.length];
  };
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const dd = dist(word, o);
    if (dd < bestD) [best, bestD] = [o, dd];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

export function parseSettings(text: string, file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): LoadedSettings {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        path: [],
        message: `YAML: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
        line: e.linePos?.[0].line,
        col: e.linePos?.[0].col,
      })),
    );
  }
  const issues: ConfigIssue[] = [];
  const raw = substituteEnv(doc.toJS() ?? {}, [], env, issues);
  issues.push(...nonFinite(raw, []));
  if (opts.requireCameras && !(raw as { cameras?: unknown[] }).cameras?.length)
    issues.push({ path: ['cameras'], message: 'no cameras: a gateway needs at least one camera (see config/example.yaml)' });
  const validate = compile<Settings>(SettingsSchema, true);
  if (!validate(raw)) {
    for (const e of validate.errors ?? []) {
      const path = pathOf(e);
      let message = describe(e);
      if (e.keyword === 'additionalProperties') {
        const allowed = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {});
        const guess = closest(String(path.at(-1)), allowed);
        message += guess ? ` (did you mean "${guess}"?)` : allowed.length ? ` (known keys: ${allowed.join(', ')})` : '';
      }
      issues.push({ path, message });
    }
    issues.splice(0, issues.length, ...foldCoordinateIssues(issues, raw));
  }
  const dir = dirname(resolve(file));
  const resolvePath = (p: string) => resolve(dir, p);
  // Semantic checks run even on a file with schema errors, so one pass shows everything;
  // a section too broken to check is left to the schema's messages.
  try {
    issues.push(...checkSemantics(raw as Settings, resolvePath));
  } catch {
    if (issues.length === 0) throw new ConfigError(file, [{ path: [], message: 'settings could not be checked' }]);
  }
  const deferred = opts.contain && issues.every((i) => i.containable) ? issues.splice(0) : [];
  if (issues.length) {
    throw new ConfigError(
      file,
      issues.map((i) => locate(doc, lc, i, i.message.startsWith('unknown key'))),
    );
  }
  const warnings = deferred.map((i) => formatIssue(file, locate(doc, lc, i, false)));
  return { settings: raw as Settings, file: resolve(file), dir, resolvePath, ...(warnings.length ? { warnings } : {}) };
}

/** `.inf` and `.nan` are YAML numbers, but no setting means them (and JSON Schema's maximum lets NaN through). */
function nonFinite(value: unknown, path: (string | number)[]): ConfigIssue[] {
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [{ path, message: `${value} is not allowed: give a finite number` }];
  if (Array.isArray(value)) return value.flatMap((v, i) => nonFinite(v, [...path, i]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => nonFinite(v, [...path, k]));
  return [];
}

/** The byte offset of the first invalid UTF-8 sequence, or -1. */
export function invalidUtf8At(buf: Buffer): number {
  const text = buf.toString('utf8');
  for (let i = text.indexOf('\uFFFD'); i !== -1; i = text.indexOf('\uFFFD', i + 1)) {
    // A U+FFFD that the file really contains is fine; one that decoding put in marks bad bytes.
    const at = Buffer.byteLength(text.slice(0, i));
    if (buf[at] !== 0xef || buf[at + 1] !== 0xbf || buf[at + 2] !== 0xbd) return at;
  }
  return -1;
}

/** A settings file: read and checked as UTF-8 (`check` and `run` also require a camera: `requireCameras`). */
export function loadSettings(file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): LoadedSettings {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new ConfigError(file, [
      { path: [], message: `cannot read the settings file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` },
    ]);
  }
  const bad = invalidUtf8At(bytes);
  if (bad >= 0)
    throw new ConfigError(file, [
      {
        path: [],
        message: `not valid UTF-8 at byte offset ${bad} (0x${bytes[bad].toString(16).padStart(2, '0')}); save the file as UTF-8`,
      },
    ]);
  return parseSettings(bytes.toString('utf8'), file, env, opts);
}
