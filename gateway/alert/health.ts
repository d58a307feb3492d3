/**
 * Speaker health, published retained like camera health: online once a message played or
 * a probe answered, failed with the device's reason once one did not. Skipped warnings
 * (quiet hours, rate limit) say nothing about the speaker and change nothing.
 */
import type { WarningOutcome } from './types.ts';

export type SpeakerState = 'unknown' | 'online' | 'failed';

export interface SpeakerHealth {
  speaker: string;
  state: SpeakerState;
  code: string | null;
  reason: string | null;
  since: number;
  lastOutcome: 'played' | 'failed' | 'probe_ok' | 'probe_failed' | null;
  lastPlayedAt: number | null;
  lastFailedAt: number | null;
  consecutiveFailures: number;
}

export class SpeakerHealthBoard {
  readonly #all = new Map<string, SpeakerHealth>();
  readonly #publish: (h: SpeakerHealth) => void;

  constructor(ids: string[], now: number, publish: (h: SpeakerHealth) => void) {
    this.#publish = publish;
    for (const id of ids)
      this.#all.set(id, {
        speaker: id,
        state: 'unknown',
        code: null,
        reason: null,
        since: now,
        lastOutcome: null,
        lastPlayedAt: null,
        lastFailedAt: null,
        consecutiveFailures: 0,
      });
  }

  get(id: string): SpeakerHealth | undefined {
    return this.#all.get(id);
  }

  list(): SpeakerHealth[] {
    return [...this.#all.values()];
  }

  publishAll(): void {
    for (const h of this.#all.values()) this.#publish(h);
  }

  onOutcome(o: WarningOutcome): void {
    if (o.outcome === 'skipped') return;
    this.#update(o.speaker, o.outcome === 'played', o.outcome, o.code, o.reason, o.at);
  }

  onProbe(id: string, ok: boolean, code: string | null, reason: string | null, at: number): void {
    this.#update(id, ok, ok ? 'probe_ok' : 'probe_failed', code, reason, at);
  }

  #update(id: string, ok: boolean, outcome: SpeakerHealth['lastOutcome'], code: string | null, reason: string | null, at: number): void {
    const h = this.#all.get(id);
    if (!h) return;
    const state: SpeakerState = ok ? 'online' : 'failed';
    if (state !== h.state) h.since = at;
    h.state = state;
    h.lastOutcome = outcome;
    h.code = ok ? null : code;
    h.reason = reason;
    if (outcome === 'played') h.lastPlayedAt = at;
    if (!ok) h.lastFailedAt = at;
    h.consecutiveFailures = ok ? 0 : h.consecutiveFailures + 1;
    this.#publish(h);
  }
}

export function speakerHealthPayload(gw: string, h: SpeakerHealth, name?: string) {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    gateway: gw,
    speaker: h.speaker,
    name: name ?? null,
    state: h.state,
    code: h.code,
    reason: h.reason,
    since: iso(h.since),
    last_outcome: h.lastOutcome,
    last_played_at: iso(h.lastPlayedAt),
    last_failed_at: iso(h.lastFailedAt),
    consecutive_failures: h.consecutiveFailures,
  };
}
