/**
 * Events without video: a verdict as the rule engine would give it, and a small grey
 * frame for its evidence, handed to a running gateway's event service. For the
 * lifecycle after confirmation (dispatch, commands, statistics), where real video
 * would only add minutes.
 */
import type { Gateway } from '../../gateway/controller.ts';
import type { EventRecord } from '../../gateway/events/types.ts';
import { resolveZoneRules } from '../../gateway/rules/zone-rules.ts';
import type { Box } from '../../gateway/zones/geometry.ts';

let nextTrack = 1;

export function injectEvent(gw: Gateway, camera: string, o: { box?: Box; label?: string } = {}): Promise<EventRecord> {
  const cam = gw.ctx.config.settings.cameras.find((c) => c.id === camera);
  if (!cam) throw new Error(`no camera ${camera}`);
  const rule = resolveZoneRules(cam)[0];
  const now = gw.ctx.clock.now();
  // Each injected thing stands somewhere else, so the spot's cooldown does not merge them.
  const k = nextTrack++;
  const x = (k % 9) / 10;
  const box: Box = o.box ?? [x, 0.5, x + 0.08, 0.6];
  const label = o.label ?? 'car';
  const track = {
    id: k,
    label,
    box,
    score: 0.9,
    firstSeen: now - 5000,
    lastSeen: now,
    hits: 5,
    stillSince: now - 5000,
    anchor: box,
    visible: true,
    labels: new Map([[label, 5]]),
  };
  const frame = { rgb: Buffer.alloc(64 * 48 * 3, 120), width: 64, height: 48 };
  return gw.events.confirm({ rule, tracks: [track], box, classes: [label], since: now - 5000, at: now }, frame);
}
