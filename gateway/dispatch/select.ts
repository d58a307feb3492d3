/**
 * Who to ask, under the "1+3" arrangement: one town's team also serves three
 * neighbouring towns. Officers of this box's town within `localRadiusM` come first,
 * nearest first. When none is in range, the nearest of this town's and the neighbouring
 * towns' officers is asked. Officers of other towns are never asked.
 */
import type { Candidate } from './roster.ts';

export interface TownRule {
  /** This box's town (gateway.town); without it every officer counts as local. */
  homeTown?: string;
  neighbourTowns: readonly string[];
  localRadiusM: number;
}

export interface Choice extends Candidate {
  tier: 'local' | 'neighbour';
}

export function tierOf(officerTown: string | undefined, r: TownRule): 'local' | 'neighbour' | null {
  if (!r.homeTown || !officerTown || officerTown === r.homeTown) return 'local';
  return r.neighbourTowns.includes(officerTown) ? 'neighbour' : null;
}

/** The best of `candidates` (already available and nearest first), or null. */
export function choose(candidates: readonly Candidate[], r: TownRule): Choice | null {
  const eligible = candidates.flatMap((c) => {
    const tier = tierOf(c.officer.town, r);
    return tier ? [{ ...c, tier }] : [];
  });
  const inRange = eligible.find((c) => c.tier === 'local' && c.distanceM <= r.localRadiusM);
  return inRange ?? eligible[0] ?? null;
}
