/**
 * Every zone's warnings made ready at start: the first warning and the firmer repeat of
 * each rule, synthesised and cached for the camera's speakers, one after another in the
 * background. A first warning then starts from the cache instead of waiting for the
 * speech engine (espeak-ng and ffmpeg: a few hundred milliseconds, more on a busy box).
 * Texts repeat across cameras, and the cache keeps each once.
 */
import type { Logger } from '../log.ts';
import type { Warner } from '../alert/warner.ts';
import type { WarningPolicy } from '../alert/policy.ts';
import type { ZoneRule } from '../rules/zone-rules.ts';
import { render } from '../alert/messages.ts';

export async function warmWarnings(o: {
  warner: Pick<Warner, 'prepare'>;
  policy: Pick<WarningPolicy, 'variables' | 'resolveClip'>;
  rules: Iterable<ZoneRule>;
  speakers: (camera: string) => string[];
  log: Logger;
  stopped?: () => boolean;
}): Promise<void> {
  const t0 = performance.now();
  let n = 0;
  for (const r of o.rules) {
    const speakers = o.speakers(r.camera);
    if (!speakers.length) continue;
    const vars = o.policy.variables(r.camera, r.zoneName, r.type);
    const m = r.messages;
    for (const [text, clip] of [
      [m.text, m.clip],
      [m.firm, m.firmClip],
    ] as const) {
      if (o.stopped?.()) return;
      await o.warner.prepare({ text: render(text, vars), file: o.policy.resolveClip(clip), speakers });
      n++;
    }
  }
  o.log.debug({ warnings: n, ms: Math.round(performance.now() - t0) }, 'warning audio ready for every zone');
}
