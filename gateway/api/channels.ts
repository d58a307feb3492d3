/**
 * The channel table: every MQTT channel of the contract, once. Its address (topic
 * template), payload schemas, QoS, retain, direction and MQTT 5 message expiry live here
 * and nowhere else: `Topics` (api/topics.ts) fills the addresses in, the AsyncAPI document
 * (api/asyncapi.ts, docs/asyncapi.yaml) is built from the table, and every publish takes
 * its QoS and retain flag from `delivery()` (test/api/channels.test.ts checks all three).
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { EventMessage, TransitionMessage, WarningMessage } from './schema/events.ts';
import { AlertMessage, DispatchMessage, OfficerReply, OfficerState } from './schema/dispatch.ts';
import { CameraHealthMessage, SpeakerHealthMessage, StatusMessage, TelemetryMessage } from './schema/system.ts';
import { StatsMessage } from './schema/stats.ts';
import { OfficerClaim } from './schema/fleet.ts';
import { COMMANDS, OfficerAnswerData, REPLY_DATA, Reply } from './schema/commands.ts';

export const CONTRACT_VERSION = 'v1';

/** The trees every address starts with. `{prefix}` may contain "/". */
export const ROOT = `{prefix}/${CONTRACT_VERSION}`;
export const GATEWAYS = `${ROOT}/gateways`;
export const OFFICERS = `${ROOT}/officers`;
export const GATEWAY = `${GATEWAYS}/{gateway}`;
const GW = GATEWAY;
const OFF = `${OFFICERS}/{officer}`;
/** Every command has a channel of its own on this template. */
export const COMMAND_ADDRESS = `${GW}/commands/{command}`;

export const pascal = (s: string) =>
  s
    .split('_')
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');

/** The payload schemas, by message name (the names the table and the AsyncAPI document use). */
export const PAYLOADS: Record<string, TSchema> = {
  Status: StatusMessage,
  Event: EventMessage,
  Transition: TransitionMessage,
  Warning: WarningMessage,
  Dispatch: DispatchMessage,
  Alert: AlertMessage,
  CameraHealth: CameraHealthMessage,
  SpeakerHealth: SpeakerHealthMessage,
  Telemetry: TelemetryMessage,
  Stats: StatsMessage,
  OfficerState,
  OfficerReply,
  OfficerClaim,
  ...Object.fromEntries(Object.entries(COMMANDS).map(([n, s]) => [`${pascal(n)}Command`, s])),
  ...Object.fromEntries(Object.entries(REPLY_DATA).map(([n, s]) => [`${pascal(n)}Reply`, Reply(n, s)])),
  ErrorReply: Reply('a command that could not be read (unknown name, not JSON)', Type.Object({})),
  OfficerAnswerReply: Reply("officer_reply (an officer's answer sent under MQTT 5 with a response topic)", OfficerAnswerData),
};

export interface Channel {
  address: string;
  title: string;
  description: string;
  /** publish: the gateway publishes; subscribe: the gateway subscribes. */
  direction: 'publish' | 'subscribe';
  qos: 0 | 1;
  retain: boolean;
  /** Names in PAYLOADS. */
  messages: string[];
  /** MQTT 5 message expiry: a fixed number of seconds, or where the number comes from. */
  expiry?: { seconds: number } | { from: string };
  /** Commands: the channel the reply goes to when the request names no response topic. */
  reply?: string;
  /** MQTT 5 only: the message of the reply sent to the request's response topic. */
  replyTo?: string;
}

const GATEWAY_CHANNELS = {
  status: {
    address: `${GW}/status`,
    title: 'Gateway status',
    direction: 'publish',
    qos: 1,
    retain: true,
    messages: ['Status'],
    description:
      'Retained birth and death: "online" on every connect, "offline" on an orderly stop, and "offline" with reason "connection lost" as the last will when the gateway vanishes. Under MQTT 5 the will waits for the will delay (mqtt.will_delay_s, 15 s) so a brief drop does not flap.',
  },
  events: {
    address: `${GW}/events`,
    title: 'Confirmed events',
    direction: 'publish',
    qos: 1,
    retain: false,
    messages: ['Event'],
    description:
      'One message per event, when it is confirmed. seq counts 1, 2, 3, ... per gateway: a gap means a missed event. A message re-sent after an outage has the same msg_id and the same id.',
  },
  eventState: {
    address: `${GW}/events/{event}/state`,
    title: 'Event lifecycle',
    direction: 'publish',
    qos: 1,
    retain: false,
    messages: ['Transition'],
    description: 'Every lifecycle transition of an event, in order. Subscribe to `{prefix}/v1/gateways/{gateway}/events/+/state`.',
  },
  warnings: {
    address: `${GW}/warnings`,
    title: 'Warning attempts',
    direction: 'publish',
    qos: 1,
    retain: false,
    messages: ['Warning'],
    description: 'Every attempt to play a message on a speaker (event warnings, test_speaker, shout): played or failed, and why.',
  },
  dispatches: {
    address: `${GW}/dispatches`,
    title: 'Dispatches (for the platform)',
    direction: 'publish',
    qos: 1,
    retain: false,
    messages: ['Dispatch'],
    description: 'Each dispatch and each change of its state: offered, accepted, arrived, closed, declined, timed_out, withdrawn.',
  },
  alerts: {
    address: `${GW}/alerts`,
    title: 'Alerts',
    direction: 'publish',
    qos: 1,
    retain: false,
    messages: ['Alert'],
    description:
      'Things a person must act on: no_officer (an escalated event nobody can take; the gateway keeps trying), overdue (past the deadline).',
  },
  cameraHealth: {
    address: `${GW}/cameras/{camera}/health`,
    title: 'Camera health',
    direction: 'publish',
    qos: 1,
    retain: true,
    messages: ['CameraHealth'],
    description: 'Retained; on change and every 30 s.',
  },
  speakerHealth: {
    address: `${GW}/speakers/{speaker}/health`,
    title: 'Speaker health',
    direction: 'publish',
    qos: 1,
    retain: true,
    messages: ['SpeakerHealth'],
    description: 'Retained; on change.',
  },
  telemetry: {
    address: `${GW}/telemetry`,
    title: 'Telemetry',
    direction: 'publish',
    qos: 0,
    retain: false,
    messages: ['Telemetry'],
    expiry: { seconds: 3600 },
    description: 'QoS 0, every minute. The only messages the gateway may drop (when its outbox is full, or after an hour).',
  },
  stats: {
    address: `${GW}/stats`,
    title: 'Statistics',
    direction: 'publish',
    qos: 1,
    retain: true,
    messages: ['Stats'],
    description: 'Retained; every stats.interval_s (300 s) and after a stats command. All events stored on the gateway.',
  },
  replies: {
    address: `${GW}/replies/{command}`,
    title: 'Command replies',
    direction: 'publish',
    qos: 1,
    retain: false,
    messages: [...Object.keys(REPLY_DATA).map((n) => `${pascal(n)}Reply`), 'ErrorReply'],
    description:
      'Replies to commands that came without an MQTT 5 response topic (always under MQTT 3.1.1). {command} is the name the command was sent under ("/" in it becomes "_").',
  },
} satisfies Record<string, Channel>;

const COMMAND_CHANNELS: Record<string, Channel> = Object.fromEntries(
  Object.keys(COMMANDS).map((n): [string, Channel] => [
    `command${pascal(n)}`,
    {
      address: COMMAND_ADDRESS.replace('{command}', n),
      title: `Command: ${n}`,
      direction: 'subscribe',
      qos: 1,
      retain: false,
      messages: [`${pascal(n)}Command`],
      reply: 'replies',
      description: `${(COMMANDS as Record<string, TSchema>)[n].description}. Never retained (a retained command is refused).`,
      ...(n === 'shout' ? { expiry: { from: 'required: MQTT 5 message expiry or expires_at' } } : {}),
    },
  ]),
);

const OFFICER_CHANNELS = {
  officerAnswerReply: {
    address: '{responseTopic}',
    title: "Reply to an officer's answer (MQTT 5)",
    direction: 'publish',
    qos: 1,
    retain: false,
    messages: ['OfficerAnswerReply'],
    description: "Sent to the Response Topic the officer's app set on its answer, with its Correlation Data.",
  },
  officerState: {
    address: `${OFF}/state`,
    title: 'Officer state (from phones)',
    direction: 'subscribe',
    qos: 1,
    retain: false,
    messages: ['OfficerState'],
    description: 'The officer app reports position and duty. Not under a gateway: under "1+3" several gateways follow the same phone.',
  },
  officerDispatch: {
    address: `${OFF}/dispatch`,
    title: "Dispatches (to one officer's phone)",
    direction: 'publish',
    qos: 1,
    retain: false,
    messages: ['Dispatch'],
    expiry: { from: 'offers only: until their answer_by' },
    description:
      "Job offers to the officer, and every change of the dispatch's state, which is also how the app learns the result of its answers. Under MQTT 5 an offer expires at its answer_by time.",
  },
  officerReply: {
    address: `${OFF}/reply`,
    title: 'Officer answers',
    direction: 'subscribe',
    qos: 1,
    retain: false,
    messages: ['OfficerReply'],
    description:
      'accept / decline / arrived / closed, naming the dispatch_id. Under MQTT 5, an answer with a response topic also gets a reply envelope there (OfficerAnswerReply, command "officer_reply"); answers to another gateway\'s dispatch get none from this one.',
    replyTo: 'OfficerAnswerReply',
  },
  officerClaim: {
    address: `${OFF}/claims/{gateway}`,
    title: 'Officer claims (between gateways sharing officers)',
    direction: 'publish',
    qos: 1,
    retain: true,
    messages: ['OfficerClaim'],
    expiry: { from: 'fleet.claim_ttl_s' },
    description: [
      "Only with fleet.claims on. Before offering a job, a gateway publishes a retained claim on its own topic for that officer and subscribes to everyone's (`{prefix}/v1/officers/+/claims/+`). It waits fleet.claim_settle_ms, then of all live claims for the officer the smallest (at, gateway_id, claim_id) wins; the others clear theirs (an empty retained payload) and ask their next candidate. An officer with a live claim by another gateway is not picked. The holder renews every claim_ttl_s / 3 while it has an open dispatch (offered, accepted, arrived) with the officer, and clears the claim when it has none.",
      'Guarantee: no officer has open dispatches from two gateways at once, provided every claim reaches every gateway within half the settle window (one broker or one cluster, connected). A gateway killed mid-claim never offers; its claim lapses after claim_ttl_s (MQTT 5 message expiry: the broker drops it), or at once when its last will (status "offline", after mqtt.will_delay_s) arrives. A gateway that cannot reach the broker claims nobody: its escalated events wait as unassigned (the platform is alerted) and are retried.',
      "Not guaranteed: across a partition longer than the TTL, a cut-off holder keeps its job while its claim lapses elsewhere, so another gateway may offer the same officer a second job (the phone shows both). A broker restart without persistence forgets retained claims; holders re-publish theirs within claim_ttl_s / 3, and during that gap a new claim may win beside an existing job. MQTT 3.1.1 has no message expiry: expires_at is then compared with the receiver's clock (keep clocks in NTP sync).",
    ].join('\n\n'),
  },
} satisfies Record<string, Channel>;

/** A channel named in code (the command channels are reached through their template). */
export type ChannelKey = keyof typeof GATEWAY_CHANNELS | keyof typeof OFFICER_CHANNELS;

/** Any channel's key: a named one, or a command's (`commandReload`, ...). */
export type AnyChannel = ChannelKey | `command${string}`;

/** Every channel, in the order the AsyncAPI document lists them. */
export const CHANNELS: Readonly<Record<string, Channel>> = { ...GATEWAY_CHANNELS, ...COMMAND_CHANNELS, ...OFFICER_CHANNELS };

/** The publish options of a channel: its QoS and retain flag, as the table says. */
export function delivery(key: AnyChannel): { qos: 0 | 1; retain: boolean } {
  const c: Channel | undefined = CHANNELS[key];
  if (!c) throw new Error(`no channel ${key} in api/channels.ts`);
  return { qos: c.qos, retain: c.retain };
}

/** A channel's fixed message expiry in seconds (telemetry). */
export function expirySeconds(key: ChannelKey): number {
  const e = CHANNELS[key].expiry;
  if (!e || !('seconds' in e)) throw new Error(`channel ${key} has no fixed message expiry`);
  return e.seconds;
}
