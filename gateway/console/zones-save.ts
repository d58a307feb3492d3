/**
 * Saving one camera's zones from the zone editor. The settings file is edited with the
 * `yaml` Document API, so comments, key order and the untouched parts stay as written;
 * only the zones that changed are replaced. The new text must pass the very checks of
 * `gateway check` (parseSettings) before anything is written; then the previous file is
 * kept as FILE.bak and the new one replaces it in one rename.
 */
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isMap, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { ConfigError, formatIssue, parseSettings } from '../settings/load.ts';
import type { ZoneSettings } from '../settings/schema.ts';
import { dotted } from '../validate.ts';

export interface SaveIssue {
  /** The key path, e.g. cameras.0.zones.1.rules.0.dwell_s, for showing at the field. */
  path: string;
  message: string;
}

export type SaveResult = { ok: true; backup: string; changed: string[] } | { ok: false; issues: SaveIssue[] };

/** Plain JSON for a polygon: [x, y] pairs, flow style as people write them by hand. */
function polygonNode(doc: Document, poly: number[][]) {
  const n = doc.createNode(poly.map((p) => p.map((v) => Math.round(v * 1000) / 1000))) as YAMLSeq;
  n.flow = true;
  return n;
}

function zoneNode(doc: Document, z: ZoneSettings) {
  const n = doc.createNode({}) as YAMLMap;
  n.set('id', z.id);
  if (z.name) n.set('name', z.name);
  n.set('polygon', polygonNode(doc, z.polygon));
  if (z.mask?.length) n.set('mask', doc.createNode(z.mask.map((m) => polygonNode(doc, m))));
  if (z.schedule) n.set('schedule', doc.createNode(z.schedule));
  n.set('rules', doc.createNode(z.rules));
  return n;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The new text with camera `cameraId`'s zones set to `zones`; which zones changed. */
export function editZones(text: string, cameraId: string, zones: ZoneSettings[]): { text: string; changed: string[]; index: number } {
  const doc = parseDocument(text);
  const cams = doc.get('cameras');
  if (!isSeq(cams)) throw new Error('the settings have no cameras list');
  const index = cams.items.findIndex((c) => isMap(c) && String(c.get('id')) === cameraId);
  if (index < 0) throw new Error(`no camera "${cameraId}" in the settings file`);
  const cam = cams.items[index] as YAMLMap;
  const old = cam.get('zones');
  const before = new Map<string, YAMLMap>();
  if (isSeq(old)) for (const z of old.items) if (isMap(z)) before.set(String(z.get('id')), z);
  const changed: string[] = [];
  const items = zones.map((z) => {
    const prev = before.get(z.id);
    if (!prev) {
      changed.push(z.id);
      return zoneNode(doc, z);
    }
    const was = prev.toJSON() as ZoneSettings;
    // Only the keys that differ are replaced, so comments inside an untouched rule stay.
    const keys = ['name', 'polygon', 'mask', 'schedule', 'rules'] as const;
    for (const k of keys) {
      if (same(was[k], z[k])) continue;
      changed.push(z.id);
      const v = z[k];
      if (v === undefined || (Array.isArray(v) && v.length === 0 && k === 'mask')) prev.delete(k);
      else if (k === 'polygon') prev.set(k, polygonNode(doc, v as number[][]));
      else if (k === 'mask') prev.set(k, doc.createNode((v as number[][][]).map((m) => polygonNode(doc, m))));
      else prev.set(k, doc.createNode(v));
    }
    return prev;
  });
  for (const id of before.keys()) if (!zones.some((z) => z.id === id)) changed.push(id);
  if (isSeq(old)) old.items = items;
  else cam.set('zones', doc.createNode(items));
  return { text: doc.toString({ lineWidth: 0 }), changed: [...new Set(changed)], index };
}

export function saveZones(file: string, cameraId: string, zones: ZoneSettings[]): SaveResult {
  const text = readFileSync(file, 'utf8');
  let next: ReturnType<typeof editZones>;
  try {
    next = editZones(text, cameraId, zones);
  } catch (e) {
    return { ok: false, issues: [{ path: '', message: (e as Error).message }] };
  }
  try {
    parseSettings(next.text, file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // Line numbers would point into a file that was never written: the key path says where.
    return { ok: false, issues: e.issues.map((i) => ({ path: dotted(i.path), message: formatIssue(file, { ...i, line: undefined }) })) };
  }
  const backup = `${file}.bak`;
  copyFileSync(file, backup);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, next.text);
  renameSync(tmp, file);
  return { ok: true, backup, changed: next.changed };
}
