/** What detection a camera's settings ask for: which models, which zones watched for static change. */
import type { CameraSettings } from '../settings/schema.ts';
import { resolveZoneRules } from '../rules/zone-rules.ts';
import type { Pt } from '../zones/geometry.ts';
import { STATIC_CHANGE, type StaticChangeSettings, type StaticZone } from './static/detector.ts';

/** `models` if given (may be empty), else `model`, else the detector's default. */
export function cameraModelIds(cam: CameraSettings, defaultModel: string): string[] {
  return cam.models ?? [cam.model ?? defaultModel];
}

/** The zones listed in static_change.zones, else those whose rules name `static_change`. */
export function staticZones(cam: CameraSettings): StaticZone[] {
  const listed = cam.static_change?.zones;
  const wanted = listed
    ? new Set(listed)
    : new Set(
        resolveZoneRules(cam)
          .filter((r) => r.classes.has(STATIC_CHANGE))
          .map((r) => r.zone),
      );
  return cam.zones.filter((z) => wanted.has(z.id)).map((z) => ({ id: z.id, polygon: z.polygon as Pt[] }));
}

export function staticSettings(cam: CameraSettings): StaticChangeSettings {
  const s = cam.static_change;
  return {
    width: s.width,
    persistS: s.persist_s,
    learnS: s.learn_s,
    sensitivity: s.sensitivity,
    minArea: s.min_area,
    absorbS: s.absorb_s,
    occluderClasses: s.ignore_classes,
  };
}
