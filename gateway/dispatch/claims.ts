/**
 * Officer claims across boxes: before a box offers a job to an officer it claims him over
 * MQTT, so two boxes sharing officers ("1+3") never book the same one at once.
 *
 * Each box owns one retained topic per officer, officers/{officer}/claims/{gateway}. A
 * claim carries the time it was first made (`at`), an id and an expiry (MQTT 5 message
 * expiry too, so the broker forgets it by itself). The claimant waits `settleMs`, then
 * compares every live claim it has heard for that officer: the smallest (at, gateway,
 * claim id) wins. Every box applies the same rule to the same claims, so exactly one
 * wins when each claim reaches every box within half the settle window. The loser clears
 * its claim and its dispatcher asks the next candidate. The holder renews the claim
 * (same `at`) while it has an open dispatch for the officer and clears it when it has
 * none. A box that dies stops renewing: its claims expire after `ttlS`, sooner when its
 * last will (status "offline") arrives.
 *
 * Why MQTT and not the phone or the platform: the phone app is not ours and may be
 * offline, and the platform is often out of reach from the edge; the broker is already
 * the one thing every box sharing officers talks to, and offers travel through it anyway.
 */
import { ulid } from 'ulid';
import type { Logger } from '../log.ts';
import { mono, type Clock } from '../clock.ts';
import type { Topics } from '../api/topics.ts';
import type { Uplink } from '../uplink/uplink.ts';
import type { Bus } from '../bus.ts';
import { delivery } from '../api/channels.ts';

export interface ClaimSettings {
  /** How long a claimant waits for competing claims before it counts. */
  settleMs: number;
  /** A claim not renewed for this long is void. */
  ttlS: number;
}

export const DEFAULT_CLAIMS: ClaimSettings = { settleMs: 500, ttlS: 30 };

/** The payload of officers/{officer}/claims/{gateway}. An empty retained payload clears it. */
export interface ClaimPayload {
  officer_id: string;
  gateway_id: string;
  claim_id: string;
  /** The event it was claimed for; null when re-asserted after a restart for an open dispatch. */
  event_id: string | null;
  /** When the claim was first made: the order claims are compared by. Renewals keep it. */
  at: string;
  renewed_at: string;
  expires_at: string;
  ttl_s: number;
}

interface Heard {
  gateway: string;
  claimId: string;
  at: number;
  /** Monotonic time (clock.mono) the claim is void after: a clock step must not void or revive it. */
  expiresAt: number;
}

export type ClaimResult = 'won' | 'lost' | 'offline';

export interface ClaimsDeps {
  uplink: Uplink;
  topics: Topics;
  gatewayId: string;
  log: Logger;
  clock: Clock;
  bus: Bus;
  settings: ClaimSettings;
  /** Officers this box has an open dispatch with (offered, accepted, arrived): their claims are kept. */
  openOfficers: () => ReadonlySet<string>;
}

export class OfficerClaims {
  private readonly d: ClaimsDeps;
  /** Claims heard from other boxes: officer → gateway → claim. */
  private readonly heard = new Map<string, Map<string, Heard>>();
  /** This box's claims that won: officer → claim. */
  private readonly mine = new Map<string, ClaimPayload>();
  /** Officers being claimed now, and for which event. */
  private readonly pending = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private reconciling = false;

  constructor(d: ClaimsDeps) {
    this.d = d;
  }

  /** Subscribes; call before the uplink connects so retained claims arrive with the session. */
  start(): void {
    const { uplink, topics } = this.d;
    uplink.on(topics.filter('officerClaim', { gateway: '+' }), (topic, payload, packet) => this.onClaim(topic, payload, packet.properties));
    uplink.on(topics.filter('status', { gateway: '+' }), (topic, payload) => this.onStatus(topic, payload));
    this.d.bus.on('event.transition', this.onTransition);
    this.timer = setInterval(() => this.reconcile(true), Math.max(1000, (this.d.settings.ttlS * 1000) / 3));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.d.bus.off('event.transition', this.onTransition);
  }

  /** Officers another box holds or this box is claiming: not to be picked now. */
  unavailable(): Set<string> {
    const now = this.mono();
    const out = new Set(this.pending.keys());
    for (const [officer, by] of this.heard) for (const c of by.values()) if (c.expiresAt > now) out.add(officer);
    return out;
  }

  /** This box holds a won claim on the officer (a second job for him needs no new claim). */
  holds(officer: string): boolean {
    return this.mine.has(officer);
  }

  /** An event whose claim is being settled: the dispatcher leaves it alone until the answer. */
  claiming(eventId: string): boolean {
    for (const e of this.pending.values()) if (e === eventId) return true;
    return false;
  }

  /** Claims the officer for the event; resolves after the settle window with who won. */
  async claim(officer: string, eventId: string): Promise<ClaimResult> {
    if (this.pending.has(officer)) return 'lost';
    this.pending.set(officer, eventId);
    try {
      return await this.settle(officer, eventId);
    } finally {
      this.pending.delete(officer);
    }
  }

  private async settle(officer: string, eventId: string): Promise<ClaimResult> {
    const { uplink, settings, clock, log } = this.d;
    // Just started or reconnecting: wait a little for the broker, and for the others'
    // retained claims to arrive after connecting, before deciding we cannot claim.
    const end = this.mono() + Math.max(5000, 2 * settings.settleMs);
    for (;;) {
      if (uplink.connected && uplink.upForMs() >= settings.settleMs) break;
      if (this.mono() > end) return 'offline';
      await new Promise((r) => setTimeout(r, 100));
    }
    const now = clock.now();
    const own = this.payload(officer, eventId, ulid(now), now, now);
    try {
      await uplink.publishAcked(this.topic(officer), JSON.stringify(own), this.publishOpts());
      await new Promise((r) => setTimeout(r, settings.settleMs));
    } catch (err) {
      log.warn({ officer, event: eventId, err }, 'officer claim could not be published; trying again later');
      return 'offline';
    }
    const winner = this.winner(officer, { gateway: this.d.gatewayId, claimId: own.claim_id, at: now, expiresAt: Infinity });
    if (winner.gateway === this.d.gatewayId) {
      this.mine.set(officer, own);
      log.debug({ officer, event: eventId, claim: own.claim_id }, 'officer claim won');
      return 'won';
    }
    log.info(
      { officer, event: eventId, holder: winner.gateway },
      'officer claimed by another gateway at the same time; asking the next one',
    );
    this.clear(officer);
    return 'lost';
  }

  /** The deterministic rule: the earliest claim, then the smaller gateway id, then claim id. */
  private winner(officer: string, own: Heard): Heard {
    const now = this.mono();
    const all = [own, ...[...(this.heard.get(officer)?.values() ?? [])].filter((c) => c.expiresAt > now)];
    return all.reduce((a, b) => (before(b, a) ? b : a));
  }

  private onClaim(topic: string, payload: Buffer, props: { messageExpiryInterval?: number } | undefined): void {
    const { officer, gateway } = this.d.topics.paramsOf('officerClaim', topic) ?? {};
    if (!officer || !gateway || gateway === this.d.gatewayId) return;
    const by = this.heard.get(officer) ?? new Map<string, Heard>();
    this.heard.set(officer, by);
    if (payload.length === 0) return void by.delete(gateway);
    let c: ClaimPayload;
    try {
      c = JSON.parse(payload.toString('utf8'));
    } catch {
      return this.d.log.warn({ topic }, 'officer claim is not JSON; ignored');
    }
    const at = Date.parse(c.at);
    const until = Date.parse(c.expires_at);
    if (!c.claim_id || Number.isNaN(at) || Number.isNaN(until))
      return this.d.log.warn({ topic }, 'officer claim without claim_id, at or expires_at; ignored');
    // MQTT 5 tells what is left of the expiry as the broker counts it: no need to trust clocks.
    const left = props?.messageExpiryInterval;
    const expiresAt = this.mono() + (left !== undefined ? left * 1000 : until - this.d.clock.now());
    by.set(gateway, { gateway, claimId: c.claim_id, at, expiresAt });
  }

  /** A box that went offline (its will, or an orderly stop) holds nobody any more. */
  private onStatus(topic: string, payload: Buffer): void {
    const gateway = this.d.topics.paramsOf('status', topic)?.gateway;
    if (!gateway || gateway === this.d.gatewayId) return;
    let state: unknown;
    try {
      state = JSON.parse(payload.toString('utf8')).state;
    } catch {
      return;
    }
    if (state !== 'offline') return;
    for (const by of this.heard.values()) by.delete(gateway);
  }

  private readonly onTransition = (): void => {
    // After the transaction that moved the dispatch has finished.
    setImmediate(() => this.reconcile(false));
  };

  /**
   * Clears claims with no open dispatch behind them; when `renew`, renews the others and
   * claims again the officers of open dispatches this box holds no claim for (after a restart).
   */
  private reconcile(renew: boolean): void {
    if (this.reconciling || !this.d.uplink.connected) return;
    this.reconciling = true;
    try {
      const open = this.d.openOfficers();
      const now = this.d.clock.now();
      for (const [officer, c] of this.mine) {
        if (!open.has(officer)) {
          this.mine.delete(officer);
          this.clear(officer);
        } else if (renew) {
          const next = this.payload(officer, c.event_id, c.claim_id, Date.parse(c.at), now);
          this.mine.set(officer, next);
          this.d.uplink.publishNow(this.topic(officer), JSON.stringify(next), this.publishOpts());
        }
      }
      if (renew)
        for (const officer of open) {
          if (this.mine.has(officer) || this.pending.has(officer)) continue;
          const c = this.payload(officer, null, ulid(now), now, now);
          this.mine.set(officer, c);
          this.d.uplink.publishNow(this.topic(officer), JSON.stringify(c), this.publishOpts());
        }
    } catch (err) {
      this.d.log.error({ err }, 'officer claims could not be reconciled');
    } finally {
      this.reconciling = false;
    }
  }

  private mono(): number {
    return mono(this.d.clock);
  }

  private clear(officer: string): void {
    this.d.uplink.publishNow(this.topic(officer), '', delivery('officerClaim'));
  }

  private topic(officer: string): string {
    return this.d.topics.address('officerClaim', { officer, gateway: this.d.gatewayId });
  }

  private publishOpts() {
    const v5 = this.d.uplink.protocolVersion === 5;
    // The table's expiry for claims is fleet.claim_ttl_s.
    return { ...delivery('officerClaim'), ...(v5 ? { properties: { messageExpiryInterval: this.d.settings.ttlS } } : {}) };
  }

  private payload(officer: string, eventId: string | null, claimId: string, at: number, now: number): ClaimPayload {
    return {
      officer_id: officer,
      gateway_id: this.d.gatewayId,
      claim_id: claimId,
      event_id: eventId,
      at: new Date(at).toISOString(),
      renewed_at: new Date(now).toISOString(),
      expires_at: new Date(now + this.d.settings.ttlS * 1000).toISOString(),
      ttl_s: this.d.settings.ttlS,
    };
  }
}

function before(a: Heard, b: Heard): boolean {
  if (a.at !== b.at) return a.at < b.at;
  if (a.gateway !== b.gateway) return a.gateway < b.gateway;
  return a.claimId < b.claimId;
}
