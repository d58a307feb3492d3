/** What each platform command does. Checks that need the gateway's state live here; shape checks are in the schemas. */
import type { EventService } from '../events/service.ts';
import type { EventLifecycle } from '../events/lifecycle.ts';
import type { EventsRepo } from '../store/events.ts';
import type { Warner } from '../alert/warner.ts';
import type { WarningOutcome } from '../alert/types.ts';
import type { StatsPublisher } from '../stats/publisher.ts';
import { TERMINAL } from '../events/types.ts';
import type { CommandActions } from './handler.ts';
import { CommandError } from './envelope.ts';
import type { ReplyData } from '../api/schema/commands.ts';

export interface ActionDeps {
  events: EventService;
  /** Records the warnings a test or shout played (they belong to no event). */
  lifecycle: Pick<EventLifecycle, 'recordWarnings'>;
  repo: EventsRepo;
  warner: Warner;
  speakers: () => string[];
  cameraSpeakers: (camera: string) => string[] | undefined;
  stats: StatsPublisher;
  reload: () => ReplyData['reload_config'];
  clock: { now(): number };
}

const outcome = (o: WarningOutcome) => ({
  speaker: o.speaker,
  outcome: o.outcome,
  code: o.code,
  reason: o.reason,
  duration_s: Math.round(o.durationMs / 100) / 10,
});

export function commandActions(d: ActionDeps): CommandActions {
  const open = (id: string) => {
    const e = d.repo.get(id);
    if (!e) throw new CommandError('not_found', `no event ${id} on this gateway`);
    if (TERMINAL.has(e.state)) throw new CommandError('conflict', `event ${id} is already ${e.state}`);
    return e;
  };
  const knownSpeaker = (id: string) => {
    const all = d.speakers();
    if (!all.includes(id)) throw new CommandError('not_found', `no speaker "${id}"; known: ${all.join(', ') || 'none'}`);
  };
  const play = async (text: string, speakers: string[]) => {
    const outcomes = await d.warner.warn({ eventId: null, text, speakers });
    d.lifecycle.recordWarnings(outcomes);
    return outcomes;
  };

  return {
    resolve: (p) => {
      const e = open(p.event_id);
      const moved = d.events.resolve(e.id, p.reason ?? 'resolved by the platform');
      if (!moved) throw new CommandError('conflict', `event ${e.id} changed meanwhile`);
      return { event_id: e.id, from: e.state, to: moved.state };
    },
    cancel: (p) => {
      const e = open(p.event_id);
      const moved = d.events.cancel(e.id, p.reason);
      if (!moved) throw new CommandError('conflict', `event ${e.id} changed meanwhile`);
      return { event_id: e.id, from: e.state, to: moved.state };
    },
    reload_config: () => d.reload(),
    test_speaker: async (p) => {
      knownSpeaker(p.speaker);
      const [o] = await play(p.text ?? '这是一条测试广播', [p.speaker]);
      if (o.outcome !== 'played') throw new CommandError('speaker_failed', `${p.speaker}: ${o.reason ?? o.code ?? o.outcome}`);
      return outcome(o);
    },
    shout: async (p, meta) => {
      if (meta.expiresAt === null)
        throw new CommandError(
          'invalid',
          'a shout needs an expiry, so that a stale one never plays: MQTT 5 message expiry, or expires_at in the payload',
        );
      if (!p.speakers && !p.cameras) throw new CommandError('invalid', 'name speakers or cameras to play on');
      const targets = new Set(p.speakers ?? []);
      for (const c of p.cameras ?? []) {
        const sp = d.cameraSpeakers(c);
        if (!sp) throw new CommandError('not_found', `no camera "${c}"`);
        sp.forEach((s) => targets.add(s));
      }
      targets.forEach(knownSpeaker);
      if (!targets.size) throw new CommandError('not_found', 'those cameras have no speakers');
      // Checked again right before playing: time may have passed in validation and lookups.
      if (meta.expiresAt <= d.clock.now()) throw new CommandError('expired', 'expired before it could play');
      const outcomes = await play(p.text, [...targets]);
      if (!outcomes.some((o) => o.outcome === 'played'))
        throw new CommandError('speaker_failed', outcomes.map((o) => `${o.speaker}: ${o.reason ?? o.code}`).join('; '));
      return { outcomes: outcomes.map(outcome) };
    },
    stats: (p) => {
      if (!p.since && !p.until) return d.stats.publish();
      return d.stats.compute({ since: p.since ? Date.parse(p.since) : null, until: p.until ? Date.parse(p.until) : null });
    },
  };
}
