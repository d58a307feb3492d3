/** Evidence settings that cannot work together: a ring too short for the clip, originals kept longer than the evidence. */
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
  return issues;
}
