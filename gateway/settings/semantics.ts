/**
 * Checks the schema cannot express: references between sections, polygon shape, models
 * that must exist on disk, and timings that cannot work together.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from './schema.ts';
import type { ConfigIssue } from './issues.ts';
import { polygonArea, selfIntersection, type Pt } from '../zones/geometry.ts';
import { loadManifest, type Manifest } from '../detect/manifest.ts';
import { filesDir, MODELS_DIR } from '../paths.ts';
import { CATALOGUE } from '../rules/catalogue.ts';
import { speakerSchemes } from '../../devices/registry.ts';
import { checkMessages } from './messages-check.ts';
import { checkUplinkAndDispatch } from './semantics-uplink.ts';
import { checkZones } from './semantics-zones.ts';
import { checkEvidence } from './semantics-evidence.ts';
import { checkFleet } from '../fleet/shard.ts';

/** Classes that only come from model-free detectors, so no model needs to know them. */
export const MODEL_FREE_CLASSES = new Set(['static_change']);

function duplicates<T extends { id: string }>(items: T[], path: (string | number)[], what: string, issues: ConfigIssue[]) {
  const seen = new Set<string>();
  items.forEach((it, i) => {
    if (seen.has(it.id)) issues.push({ path: [...path, i, 'id'], message: `duplicate ${what} id "${it.id}"` });
    seen.add(it.id);
  });
}

export function checkSemantics(s: Settings, resolvePath: (p: string) => string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  duplicates(s.cameras, ['cameras'], 'camera', issues);
  duplicates(s.speakers, ['speakers'], 'speaker', issues);
  duplicates(s.officers, ['officers'], 'officer', issues);

  try {
    new Intl.DateTimeFormat('en', { timeZone: s.gateway.timezone });
  } catch {
    issues.push({ path: ['gateway', 'timezone'], message: `unknown time zone "${s.gateway.timezone}" (e.g. Asia/Shanghai)` });
  }

  const speakerIds = new Set(s.speakers.map((sp) => sp.id));
  const schemes = speakerSchemes();
  s.speakers.forEach((sp, i) => {
    const scheme = sp.url.split(':')[0];
    if (!schemes.includes(scheme))
      issues.push({
        path: ['speakers', i, 'url'],
        message: `unsupported speaker scheme "${scheme}:" (supported: ${schemes.map((x) => `${x}:`).join(', ')})`,
      });
  });

  issues.push(...checkMessages(s, resolvePath));
  issues.push(...checkFleet(s.fleet));

  const modelsDir = s.models.dir ? resolvePath(s.models.dir) : MODELS_DIR;
  const weightsDir = s.models.files_dir ? resolvePath(s.models.files_dir) : filesDir();
  const manifests = new Map<string, Manifest | null>();
  const manifestFor = (id: string, path: (string | number)[]): Manifest | null => {
    if (!manifests.has(id)) {
      try {
        const m = loadManifest(id, modelsDir);
        const w = join(weightsDir, m.file);
        // Model problems are containable: at run time they fail only the cameras using the model.
        if (!existsSync(w))
          issues.push({ path, message: `model "${id}": weights ${w} are missing; run: gateway models fetch`, containable: true });
        else if (m.bytes && statSync(w).size !== m.bytes)
          issues.push({
            path,
            message: `model "${id}": weights ${w} have ${statSync(w).size} bytes, expected ${m.bytes}; run: gateway models fetch`,
            containable: true,
          });
        manifests.set(id, m);
      } catch (e) {
        issues.push({ path, message: (e as Error).message, containable: true });
        manifests.set(id, null);
      }
    }
    return manifests.get(id)!;
  };
  if (s.cameras.some((c) => !c.model && !c.models)) manifestFor(s.detector.model, ['detector', 'model']);

  s.cameras.forEach((cam, ci) => {
    // One broken camera section must not hide the problems of the others.
    try {
      checkCamera(cam, ci);
    } catch {
      /* the schema errors already describe this section */
    }
  });

  function checkCamera(cam: Settings['cameras'][number], ci: number): void {
    const at = ['cameras', ci];
    if (!/^(rtsps?|rtmp|https?|file|onvif):/.test(cam.url) && !existsSync(resolvePath(cam.url)))
      issues.push({
        path: [...at, 'url'],
        message: `"${cam.url}" is neither an onvif:// or rtsp:// URL nor an existing video file (looked for ${resolvePath(cam.url)})`,
      });
    cam.speakers.forEach((id, k) => {
      if (!speakerIds.has(id)) issues.push({ path: [...at, 'speakers', k], message: `no speaker with id "${id}" in speakers` });
    });
    if (cam.model !== undefined && cam.models !== undefined)
      issues.push({ path: [...at, 'models'], message: 'give either model or models, not both (models: [a, b] runs several)' });
    const models = (
      cam.models
        ? cam.models.map((id, k) => manifestFor(id, [...at, 'models', k]))
        : [cam.model ? manifestFor(cam.model, [...at, 'model']) : manifestFor(s.detector.model, ['detector', 'model'])]
    ).filter((m): m is Manifest => m !== null);
    // Every model on the camera feeds one vocabulary: a rule may name any of their classes.
    const known = new Set(models.flatMap((m) => m.labelList).filter(Boolean));
    const complete = models.length === (cam.models ?? [0]).length;
    const zoneIds = new Set(cam.zones.map((z) => z.id));
    cam.static_change?.zones?.forEach((id, k) => {
      if (!zoneIds.has(id))
        issues.push({ path: [...at, 'static_change', 'zones', k], message: `no zone with id "${id}" in this camera's zones` });
    });
    duplicates(cam.zones, [...at, 'zones'], 'zone', issues);
    cam.zones.forEach((z, zi) => {
      const zp = [...at, 'zones', zi];
      const poly = z.polygon as Pt[];
      const crossing = selfIntersection(poly);
      if (crossing)
        issues.push({
          path: [...zp, 'polygon'],
          message: `polygon crosses itself (edge ${crossing[0] + 1} crosses edge ${crossing[1] + 1}); list the points in order around the area`,
        });
      else if (polygonArea(poly) < 1e-4) issues.push({ path: [...zp, 'polygon'], message: 'polygon has (almost) no area' });
      z.rules.forEach((r, ri) => {
        const rp = [...zp, 'rules', ri];
        const defaults = CATALOGUE[r.type];
        if (!defaults) return; // an unknown type: the schema has said so
        const dwell = r.dwell_s ?? defaults.dwellS;
        if (dwell < cam.interval_s)
          issues.push({
            path: [...rp, r.dwell_s !== undefined ? 'dwell_s' : 'type'],
            message: `dwell ${dwell} s is shorter than the camera's analysis interval ${cam.interval_s} s`,
          });
        if (complete && r.classes) {
          r.classes.forEach((c, k) => {
            if (known.has(c) || MODEL_FREE_CLASSES.has(c)) return;
            const names = models.length ? models.map((m) => `"${m.id}"`).join(' and ') : 'no model';
            issues.push({
              path: [...rp, 'classes', k],
              message: `unknown class "${c}": ${names} ${models.length === 1 ? 'knows' : 'know'} ${[...known].slice(0, 8).join(', ')}, ...`,
            });
          });
        }
        const listed = cam.static_change?.zones;
        if (listed && r.classes?.includes('static_change') && !listed.includes(z.id))
          issues.push({ path: [...rp, 'classes'], message: `names static_change, but static_change.zones does not watch zone "${z.id}"` });
      });
    });
    issues.push(...checkZones(cam, at, { knows: complete ? (c) => known.has(c) : null, maxMissedS: s.tracking.max_missed_s }));
  }
  issues.push(...checkUplinkAndDispatch(s, resolvePath));
  issues.push(...checkEvidence(s));
  return issues;
}
