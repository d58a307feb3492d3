/** The numbers the Hecun report measures, as published on stats and in the stats reply. */
import { Type, type Static } from '@sinclair/typebox';
import { Gateway, Nullable, Strict, Time } from './common.ts';

const Counts = (description: string) => Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description });

const Durations = (description: string) =>
  Strict(
    {
      n: Type.Integer({ minimum: 0, description: 'events measured' }),
      median_s: Nullable(Type.Number({ minimum: 0 }), 'median, seconds; null when n is 0'),
      p90_s: Nullable(Type.Number({ minimum: 0 }), '90th percentile, seconds (linear interpolation); null when n is 0'),
    },
    description,
  );

export const StatsMessage = Strict(
  {
    gateway: Gateway,
    at: Time('when computed'),
    window: Strict(
      {
        since: Nullable(Time('events confirmed from'), 'null: from the first event stored'),
        until: Time('events confirmed before'),
      },
      'the events counted: by their confirmation time',
    ),
    events: Strict(
      {
        total: Type.Integer({ minimum: 0 }),
        open: Type.Integer({ minimum: 0, description: 'not yet resolved, closed or cancelled' }),
        by_state: Counts('current state → events'),
      },
      'events in the window',
    ),
    settled_by_warning: Strict(
      {
        resolved: Type.Integer({ minimum: 0, description: 'events resolved by the warning alone' }),
        decided: Type.Integer({ minimum: 0, description: 'events that were either resolved by the warning or escalated' }),
        share: Nullable(Type.Number({ minimum: 0, maximum: 1 }), "resolved / decided (the report's 71%); null when nothing was decided"),
      },
      'the share of events settled by the spoken warning alone',
    ),
    durations: Strict(
      {
        confirm_to_warn: Durations('confirmed → warned'),
        warn_to_resolved: Durations('warned → resolved_by_warning'),
        dispatch_to_accept: Durations('first dispatched → acknowledged: how long the matter waited for an officer'),
        accept_to_closed: Durations('acknowledged → closed'),
      },
      'how long the stages took',
    ),
    dispatches: Strict(
      {
        offers: Type.Integer({ minimum: 0, description: 'officers asked' }),
        accepted: Type.Integer({ minimum: 0 }),
        declined: Type.Integer({ minimum: 0 }),
        timed_out: Type.Integer({ minimum: 0 }),
        neighbour: Type.Integer({ minimum: 0, description: 'offers to officers of neighbouring towns ("1+3")' }),
      },
      'dispatches of the events in the window',
    ),
    by_type: Counts('violation type → events'),
    by_camera: Counts('camera id → events'),
    by_zone: Counts('"camera/zone" → events'),
    by_day: Counts("day (YYYY-MM-DD, in the gateway's time zone) → events"),
  },
  "statistics: retained on stats every stats.interval_s, and the data of the stats command's reply",
  'Stats',
);
export type StatsMessage = Static<typeof StatsMessage>;
