/**
 * reload_config: re-reads the settings file. Sections with a live applier take effect at
 * once; the others are reported as needing a restart (as zigbee2mqtt's restart_required).
 * A file with errors changes nothing and is reported with its file:line messages.
 */
import { loadSettings, ConfigError, formatIssue, type LoadedSettings } from '../settings/load.ts';
import type { Settings } from '../settings/schema.ts';
import { dotted } from '../validate.ts';
import { CommandError } from './envelope.ts';
import type { ReplyData } from '../api/schema/commands.ts';

/** An applier returns false when it cannot apply this change live (then a restart is required). */
export type Appliers = Partial<Record<keyof Settings, (next: Settings) => unknown>>;

export function reloadSettings(current: LoadedSettings, appliers: Appliers): ReplyData['reload_config'] {
  let next: LoadedSettings;
  try {
    next = loadSettings(current.file);
  } catch (e) {
    if (e instanceof ConfigError)
      throw new CommandError(
        'invalid_config',
        `${current.file} has errors; nothing changed`,
        e.issues.map((i) => ({ path: dotted(i.path), message: formatIssue(e.file, i) })),
      );
    throw new CommandError('invalid_config', `${current.file}: ${(e as Error).message}; nothing changed`);
  }
  const keys = [...new Set([...Object.keys(current.settings), ...Object.keys(next.settings)])] as (keyof Settings)[];
  const changed = keys.filter((k) => JSON.stringify(current.settings[k]) !== JSON.stringify(next.settings[k]));
  const live = changed.filter((k) => appliers[k] && appliers[k](next.settings) !== false);
  for (const k of live) (current.settings as Record<string, unknown>)[k] = next.settings[k];
  return { changed, applied: live, restart_required: changed.filter((k) => !live.includes(k)) };
}
