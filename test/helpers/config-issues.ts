/** Settings-test helper: the one issue whose message matches, failing (with all of them shown) unless exactly one does. */
import { expect } from 'vitest';
import type { ConfigIssue } from '../../gateway/settings/load.ts';

export function only(issues: ConfigIssue[], re: RegExp): ConfigIssue {
  const hits = issues.filter((i) => re.test(i.message));
  expect(hits, JSON.stringify(issues)).toHaveLength(1);
  return hits[0];
}
