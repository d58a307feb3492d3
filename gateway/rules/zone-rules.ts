/** A zone's rules with every default from the catalogue filled in. */
import type { CameraSettings, ZoneSettings } from '../settings/schema.ts';
import { CATALOGUE, type Anchor, type ViolationType } from './catalogue.ts';
import type { Pt } from '../zones/geometry.ts';
import { DEFAULT_TIME_ZONE } from '../timezone.ts';
import type { MessageOverrideT } from '../settings/schema.ts';
import { resolveMessage, type MessageSpec } from '../alert/messages.ts';
import { ALWAYS, Schedule, type ActiveCheck, type ScheduleSpec } from './schedule.ts';

export interface ZoneRule {
  type: ViolationType;
  camera: string;
  zone: string;
  zoneName: string;
  polygon: Pt[];
  /** Areas inside the zone to ignore: a thing standing in one does not count. */
  mask: Pt[][];
  classes: Set<string>;
  minCount: number;
  minArea: number;
  dwellS: number;
  graceS: number;
  cooldownS: number;
  stationary: boolean;
  /** A person must be this near the evidence (multiples of its box size); null: not needed. */
  personWithin: number | null;
  /** Which part of a thing must be in the zone (and outside the masks). */
  anchor: Anchor;
  /** Things next to one already reported are part of its matter. */
  cluster: boolean;
  /** When the rule runs (the zone's schedule, or the rule's own). */
  schedule: ActiveCheck;
  message: string;
  /** The full wording: first text, firm repeat, recorded clips (site, camera, zone layers merged). */
  messages: MessageSpec;
}

export { DEFAULT_TIME_ZONE };

export function resolveZoneRules(
  cam: CameraSettings,
  messages: Partial<Record<ViolationType, MessageOverrideT>> = {},
  timeZone: string = DEFAULT_TIME_ZONE,
): ZoneRule[] {
  return cam.zones.flatMap((z: ZoneSettings) =>
    z.rules.map((r) => {
      const d = CATALOGUE[r.type];
      const spec = resolveMessage(r.type, [
        messages[r.type],
        cam.messages?.[r.type],
        { text: r.message, firm: r.firm_message, clip: r.clip, firm_clip: r.firm_clip },
      ]);
      const schedule = (r.schedule ?? z.schedule) as ScheduleSpec | undefined;
      const near = r.require_person_within;
      return {
        type: r.type,
        camera: cam.id,
        zone: z.id,
        zoneName: z.name ?? z.id,
        polygon: z.polygon as Pt[],
        mask: (z.mask ?? []) as Pt[][],
        classes: new Set(r.classes ?? d.classes),
        minCount: r.min_count ?? d.minCount,
        minArea: r.min_area ?? d.minArea,
        dwellS: r.dwell_s ?? d.dwellS,
        graceS: r.grace_s ?? d.graceS,
        cooldownS: r.cooldown_s ?? d.cooldownS,
        stationary: r.stationary ?? d.stationary,
        personWithin: near === false ? null : (near ?? d.personWithin),
        anchor: r.anchor ?? d.anchor,
        cluster: d.cluster,
        schedule: schedule && (schedule.active || schedule.inactive) ? new Schedule(schedule, timeZone) : ALWAYS,
        message: spec.text,
        messages: spec,
      };
    }),
  );
}
