/** A zone's rules with every default from the catalogue filled in. */
import type { CameraSettings, ZoneSettings } from '../settings/schema.ts';
import { CATALOGUE, type ViolationType } from './catalogue.ts';
import type { Pt } from '../zones/geometry.ts';
import type { MessageOverrideT } from '../settings/schema.ts';
import { resolveMessage, type MessageSpec } from '../alert/messages.ts';

export interface ZoneRule {
  type: ViolationType;
  camera: string;
  zone: string;
  zoneName: string;
  polygon: Pt[];
  classes: Set<string>;
  minCount: number;
  minArea: number;
  dwellS: number;
  graceS: number;
  cooldownS: number;
  stationary: boolean;
  message: string;
  /** The full wording: first text, firm repeat, recorded clips (site, camera, zone layers merged). */
  messages: MessageSpec;
}

export function resolveZoneRules(cam: CameraSettings, messages: Partial<Record<ViolationType, MessageOverrideT>> = {}): ZoneRule[] {
  return cam.zones.flatMap((z: ZoneSettings) =>
    z.rules.map((r) => {
      const d = CATALOGUE[r.type];
      const spec = resolveMessage(r.type, [
        messages[r.type],
        cam.messages?.[r.type],
        { text: r.message, firm: r.firm_message, clip: r.clip, firm_clip: r.firm_clip },
      ]);
      return {
        type: r.type,
        camera: cam.id,
        zone: z.id,
        zoneName: z.name ?? z.id,
        polygon: z.polygon as Pt[],
        classes: new Set(r.classes ?? d.classes),
        minCount: r.min_count ?? d.minCount,
        minArea: r.min_area ?? d.minArea,
        dwellS: r.dwell_s ?? d.dwellS,
        graceS: r.grace_s ?? d.graceS,
        cooldownS: r.cooldown_s ?? d.cooldownS,
        stationary: d.stationary,
        message: spec.text,
        messages: spec,
      };
    }),
  );
}
