/**
 * The console's writes: event actions and speaker tests run the same code as the MQTT
 * commands (gateway/commands/actions.ts); saving zones edits the settings file and then
 * takes the reload_config path, so a saved zone is watched at once. Each is audited.
 */
import { CommandError } from '../commands/envelope.ts';
import type { ZoneSettings } from '../settings/schema.ts';
import type { Role } from './users.ts';
import type { ConsoleDeps } from './api.ts';
import { saveZones } from './zones-save.ts';
import { HttpError, json, type Request } from './http.ts';

type Outcome = 'ok' | 'refused' | 'failed';

export interface WriteHelpers {
  need(role: Role, action: string, target: string | null): void;
  audit(action: string, target: string | null, outcome: Outcome, detail: Record<string, unknown>): void;
}

const EVENT_ACTION = /^\/events\/([0-9A-HJKMNP-TV-Z]{26})\/(resolve|cancel)$/;
const SPEAKER_TEST = /^\/speakers\/([\w-]+)\/test$/;
const ZONES = /^\/cameras\/([\w-]+)\/zones$/;

const STATUS: Record<string, number> = { not_found: 404, conflict: 409, invalid: 400, invalid_config: 400, speaker_failed: 502 };

export async function writeApi(r: Request, d: ConsoleDeps, h: WriteHelpers): Promise<void> {
  const body = (r.body ?? {}) as Record<string, unknown>;
  const meta = { expiresAt: null, receivedAt: Date.now() };
  /** Runs an action, audits what came of it, and turns a command's refusal into an HTTP one. */
  const run = async <T>(action: string, target: string, detail: Record<string, unknown>, f: () => T | Promise<T>) => {
    try {
      const out = await f();
      h.audit(action, target, 'ok', { ...detail, result: out });
      return out;
    } catch (e) {
      if (e instanceof CommandError) {
        h.audit(action, target, e.code === 'speaker_failed' ? 'failed' : 'refused', { ...detail, error: e.message });
        throw new HttpError(STATUS[e.code] ?? 400, e.message, e.details);
      }
      h.audit(action, target, 'failed', { ...detail, error: (e as Error).message });
      throw e;
    }
  };

  const ev = EVENT_ACTION.exec(r.path);
  if (ev) {
    const [, id, action] = ev;
    h.need('operator', action, id);
    const reason =
      typeof body.reason === 'string' && body.reason.trim() ? body.reason.trim() : `${action}d in the console by ${r.session!.user}`;
    const out = await run(action, id, { reason }, () =>
      action === 'resolve' ? d.actions.resolve({ event_id: id, reason }, meta) : d.actions.cancel({ event_id: id, reason }, meta),
    );
    return json(r.res, 200, out);
  }
  const sp = SPEAKER_TEST.exec(r.path);
  if (sp) {
    h.need('operator', 'test_speaker', sp[1]);
    const text = typeof body.text === 'string' && body.text.trim() ? body.text.trim() : undefined;
    const out = await run('test_speaker', sp[1], { text: text ?? null }, () => d.actions.test_speaker({ speaker: sp[1], text }, meta));
    return json(r.res, 200, out);
  }
  const zm = ZONES.exec(r.path);
  if (zm) {
    const camera = zm[1];
    h.need('admin', 'save_zones', camera);
    if (!Array.isArray(body.zones)) throw new HttpError(400, 'zones: a list of zones is required');
    const file = d.ctx.config.file;
    const saved = saveZones(file, camera, body.zones as ZoneSettings[]);
    if (!saved.ok) {
      h.audit('save_zones', camera, 'refused', { issues: saved.issues });
      throw new HttpError(422, 'the settings would not pass `gateway check`; nothing was saved', saved.issues);
    }
    // The file on disk is now right; applying it is the same step as the reload_config command.
    const reload = await run('save_zones', camera, { file, backup: saved.backup, zones: saved.changed }, () =>
      d.actions.reload_config({}, meta),
    );
    return json(r.res, 200, { saved: file, backup: saved.backup, zones: saved.changed, reload });
  }
  throw new HttpError(404, `no such action: ${r.path}`);
}
