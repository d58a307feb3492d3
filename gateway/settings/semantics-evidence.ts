/**
 * Evidence settings that cannot work together: a ring too short for the clip, originals kept
 * longer than the evidence, a retention floor under the picture floor.
 */
import type { Settings } from './schema.ts';
import type { ConfigIssue } from './issues.ts';

export function checkEvidence(s: Settings): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const e = s.evidence;
  const at = ['evidence'];
  // The clip is cut after_s + one segment after the confirmation; by then the ring must still hold before_s.
  const needed = e.clip.before_s + e.clip.after_s + 2 * e.ring.segment_s;
  if (e.ring.enabled && e.ring.keep_s < needed)
    issues.push({
      path: [...at, 'ring', 'keep_s'],
      message: `the ring keeps ${e.ring.keep_s} s, but a clip of ${e.clip.before_s} s before to ${e.clip.after_s} s after needs at least ${needed} s (before + after + two segments)`,
    });
  const r = e.retention_days;
  for (const k of ['clips', 'stills', 'audio', 'unredacted'] as const)
    if (r[k] > r.closed_events)
      issues.push({
        path: [...at, 'retention_days', k],
        message: `${k} kept ${r[k]} days, longer than closed_events (${r.closed_events} days), after which all of an event's evidence goes`,
      });
  // Retention must free space before pictures stop; the other way round it never runs until events already lack pictures.
  const picturesStop = s.gateway.evidence_min_free_mb;
  if (e.disk.min_free_mb <= picturesStop)
    issues.push({
      path: [...at, 'disk', 'min_free_mb'],
      message: `retention starts freeing space at ${e.disk.min_free_mb} MB free, but pictures already stop at ${picturesStop} MB (gateway.evidence_min_free_mb): set it above that`,
    });
  return issues;
}
