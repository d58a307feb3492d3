/** `gateway check` for warnings: unknown {variables} in message texts and clips that are not there. */
import { existsSync } from 'node:fs';
import type { Settings } from './schema.ts';
import type { ConfigIssue } from './issues.ts';
import { VARIABLES, unknownVariables } from '../alert/messages.ts';

type Path = (string | number)[];

export function checkMessages(s: Settings, resolvePath: (p: string) => string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const text = (value: string | undefined, path: Path) => {
    for (const v of value ? unknownVariables(value) : [])
      issues.push({ path, message: `unknown variable {${v}} (have: ${VARIABLES.map((x) => `{${x}}`).join(', ')})` });
  };
  const clip = (value: string | undefined, path: Path) => {
    if (value && !existsSync(resolvePath(value)))
      issues.push({ path, message: `clip ${resolvePath(value)} does not exist (the text is spoken instead until it does)` });
  };
  const table = (t: Record<string, unknown> | undefined, at: Path) => {
    for (const [type, m] of Object.entries(t ?? {})) {
      if (typeof m === 'string') text(m, [...at, type]);
      else if (m && typeof m === 'object') {
        const o = m as { text?: string; firm?: string; clip?: string; firm_clip?: string };
        text(o.text, [...at, type, 'text']);
        text(o.firm, [...at, type, 'firm']);
        clip(o.clip, [...at, type, 'clip']);
        clip(o.firm_clip, [...at, type, 'firm_clip']);
      }
    }
  };
  table(s.warnings.messages, ['warnings', 'messages']);
  s.cameras.forEach((c, ci) => {
    table(c.messages, ['cameras', ci, 'messages']);
    c.zones.forEach((z, zi) =>
      z.rules.forEach((r, ri) => {
        const at: Path = ['cameras', ci, 'zones', zi, 'rules', ri];
        text(r.message, [...at, 'message']);
        text(r.firm_message, [...at, 'firm_message']);
        clip(r.clip, [...at, 'clip']);
        clip(r.firm_clip, [...at, 'firm_clip']);
      }),
    );
  });
  return issues;
}
