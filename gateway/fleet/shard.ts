/**
 * Camera shards: one camera list shared by several boxes (a Kubernetes StatefulSet reading
 * one ConfigMap). Box `shard` of `shards` runs the cameras whose index % shards == shard,
 * so adding a camera at the end of the list moves no other camera.
 */
import { hostname } from 'node:os';
import type { ConfigIssue } from '../settings/issues.ts';
import type { FleetSettings } from '../settings/schema.ts';

/** This box's shard index, or a message naming the setting that is wrong. */
export function shardIndex(f: Pick<FleetSettings, 'shard' | 'shards'>, host: string = hostname()): number | string {
  let i: number;
  if (f.shard === 'ordinal') {
    const m = /-(\d+)$/.exec(host);
    if (!m) return `fleet.shard is 'ordinal' but the host name "${host}" does not end in -N (a StatefulSet pod name does)`;
    i = Number(m[1]);
  } else i = f.shard;
  if (i >= f.shards) return `fleet.shard ${i} is not below fleet.shards (${f.shards})`;
  return i;
}

/** Whether the camera at `index` in the settings' list belongs to shard `shard`. */
export function inShard(index: number, shard: number, shards: number): boolean {
  return index % shards === shard;
}

/** Settings checks: an explicit shard must be below the count (an ordinal is checked at start). */
export function checkFleet(f: FleetSettings): ConfigIssue[] {
  if (f.shard === 'ordinal' || f.shard < f.shards) return [];
  return [{ path: ['fleet', 'shard'], message: `shard ${f.shard} is not below fleet.shards (${f.shards})` }];
}
