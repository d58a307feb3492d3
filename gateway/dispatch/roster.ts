/**
 * Officers: who they are comes from the settings; where they are and whether they are on
 * duty comes from their phones over MQTT, and is kept in SQLite so a restart does not
 * forget the last known positions.
 */
import type { Db } from '../store/db.ts';
import type { OfficerSettings } from '../settings/schema.ts';
import { haversineM } from '../zones/geometry.ts';
import { OfficerStateRepo, type OfficerState } from '../store/officers.ts';
import { mono, type Clock } from '../clock.ts';

export type { OfficerState } from '../store/officers.ts';

export interface Candidate {
  officer: OfficerSettings;
  state: OfficerState;
  distanceM: number;
}

export class Roster {
  private officers: Map<string, OfficerSettings>;
  private readonly stateRepo: OfficerStateRepo;
  private readonly clock: Clock;
  /**
   * When each position was taken, on monotonic time (its age when heard, back from when it
   * was heard), so a clock step neither ages every position an hour nor keeps a stale one
   * fresh. Positions from before a restart have none and are aged on the wall clock.
   */
  private readonly taken = new Map<string, number>();

  constructor(db: Db, officers: OfficerSettings[], clock: Clock) {
    this.officers = new Map(officers.map((o) => [o.id, o]));
    this.stateRepo = new OfficerStateRepo(db);
    this.clock = clock;
  }

  /** Every officer's last reported position and availability (the console's officer page). */
  states(): OfficerState[] {
    return this.stateRepo.all();
  }

  /** A new roster from reloaded settings; reported states are kept. */
  replace(officers: OfficerSettings[]): void {
    this.officers = new Map(officers.map((o) => [o.id, o]));
  }

  has(id: string): boolean {
    return this.officers.has(id);
  }

  get(id: string): OfficerSettings | undefined {
    return this.officers.get(id);
  }

  /** Records a phone's report; an older report arriving late never overwrites a newer one. */
  report(s: OfficerState): void {
    if (this.stateRepo.report(s)) this.taken.set(s.id, mono(this.clock) - Math.max(0, this.clock.now() - s.reportedAt));
  }

  /**
   * Available officers nearest first: on duty, not busy, with a position reported within
   * `maxAgeS`, not in `exclude`.
   */
  candidates(lat: number, lon: number, now: number, maxAgeS: number, exclude: ReadonlySet<string> = new Set()): Candidate[] {
    const out: Candidate[] = [];
    for (const s of this.stateRepo.all()) {
      const officer = this.officers.get(s.id);
      if (!officer || exclude.has(s.id) || !s.onDuty || s.busy || s.lat === null || s.lon === null) continue;
      const taken = this.taken.get(s.id);
      const age = taken !== undefined ? mono(this.clock) - taken : now - s.reportedAt;
      if (age > maxAgeS * 1000) continue;
      out.push({ officer, state: s, distanceM: haversineM(lat, lon, s.lat, s.lon) });
    }
    return out.sort((a, b) => a.distanceM - b.distanceM);
  }
}
