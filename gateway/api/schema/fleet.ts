/** Officer claims between gateways that share officers (gateway/dispatch/claims.ts). */
import { Type } from '@sinclair/typebox';
import { Gateway, Id, Nullable, Strict, Time, Ulid } from './common.ts';

export const OfficerClaim = Strict(
  {
    officer_id: Id('the officer claimed'),
    gateway_id: Gateway,
    claim_id: Ulid('this claim; renewals keep it'),
    event_id: Nullable(Ulid('the event'), 'the event the officer is claimed for; null when re-asserted after a restart'),
    at: Time('when the claim was first made: competing claims are ordered by (at, gateway_id, claim_id); renewals keep it'),
    renewed_at: Time('when this copy was published'),
    expires_at: Time('void after this unless renewed (under MQTT 5 the message expiry says the same without trusting clocks)'),
    ttl_s: Type.Integer({ minimum: 1, description: 'fleet.claim_ttl_s of the claiming gateway' }),
  },
  "A gateway's hold on an officer before it offers him a job; an empty retained payload clears it",
  'Officer claim',
);
