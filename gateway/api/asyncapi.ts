/**
 * The AsyncAPI 3 document of the MQTT contract, built from the same TypeBox schemas the
 * code uses (gateway/api/schema/). `node --import tsx scripts/asyncapi.ts` writes it to
 * docs/asyncapi.yaml; a test fails when the file and this builder disagree.
 */
import type { TSchema } from '@sinclair/typebox';
import { CONTRACT_VERSION } from './topics.ts';
import { EventMessage, TransitionMessage, WarningMessage } from './schema/events.ts';
import { AlertMessage, DispatchMessage, OfficerReply, OfficerState } from './schema/dispatch.ts';
import { CameraHealthMessage, SpeakerHealthMessage, StatusMessage, TelemetryMessage } from './schema/system.ts';
import { StatsMessage } from './schema/stats.ts';
import { OfficerClaim } from './schema/fleet.ts';
import { COMMANDS, OfficerAnswerData, REPLY_DATA, Reply } from './schema/commands.ts';
import { Type } from '@sinclair/typebox';
import { OVERVIEW } from './asyncapi-text.ts';
import { EXAMPLES } from './examples.ts';

type Param = 'prefix' | 'gateway' | 'event' | 'camera' | 'speaker' | 'officer' | 'responseTopic';
const PARAMS: Record<Param, string> = {
  prefix: 'mqtt.prefix in the gateway\'s settings (default "township"); may contain "/"',
  gateway: 'the gateway id (gateway.id in its settings)',
  event: 'an event id (ULID)',
  camera: 'a camera id',
  speaker: 'a speaker id',
  officer: "an officer id, as in the gateways' rosters",
  responseTopic: 'the MQTT 5 Response Topic of the request',
};

interface Channel {
  key: string;
  address: string;
  title: string;
  description: string;
  /** send: the gateway publishes; receive: the gateway subscribes. */
  action: 'send' | 'receive';
  qos: 0 | 1;
  retain?: boolean;
  messages: string[];
  reply?: string;
  /** MQTT 5 only: a reply to the request's response topic, with this message. */
  replyTo?: string;
  expiry?: string;
}

const GW = '{prefix}/v1/gateways/{gateway}';
const OFF = '{prefix}/v1/officers/{officer}';
const pascal = (s: string) =>
  s
    .split('_')
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');

const SCHEMAS: Record<string, TSchema> = {
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

const CHANNELS: Channel[] = [
  {
    key: 'status',
    address: `${GW}/status`,
    title: 'Gateway status',
    action: 'send',
    qos: 1,
    retain: true,
    messages: ['Status'],
    description:
      'Retained birth and death: "online" on every connect, "offline" on an orderly stop, and "offline" with reason "connection lost" as the last will when the gateway vanishes. Under MQTT 5 the will waits for the will delay (mqtt.will_delay_s, 15 s) so a brief drop does not flap.',
  },
  {
    key: 'events',
    address: `${GW}/events`,
    title: 'Confirmed events',
    action: 'send',
    qos: 1,
    messages: ['Event'],
    description:
      'One message per event, when it is confirmed. seq counts 1, 2, 3, ... per gateway: a gap means a missed event. A message re-sent after an outage has the same msg_id and the same id.',
  },
  {
    key: 'eventState',
    address: `${GW}/events/{event}/state`,
    title: 'Event lifecycle',
    action: 'send',
    qos: 1,
    messages: ['Transition'],
    description: 'Every lifecycle transition of an event, in order. Subscribe to `{prefix}/v1/gateways/{gateway}/events/+/state`.',
  },
  {
    key: 'warnings',
    address: `${GW}/warnings`,
    title: 'Warning attempts',
    action: 'send',
    qos: 1,
    messages: ['Warning'],
    description: 'Every attempt to play a message on a speaker (event warnings, test_speaker, shout): played or failed, and why.',
  },
  {
    key: 'dispatches',
    address: `${GW}/dispatches`,
    title: 'Dispatches (for the platform)',
    action: 'send',
    qos: 1,
    messages: ['Dispatch'],
    description: 'Each dispatch and each change of its state: offered, accepted, arrived, closed, declined, timed_out, withdrawn.',
  },
  {
    key: 'alerts',
    address: `${GW}/alerts`,
    title: 'Alerts',
    action: 'send',
    qos: 1,
    messages: ['Alert'],
    description:
      'Things a person must act on: no_officer (an escalated event nobody can take; the gateway keeps trying), overdue (past the deadline).',
  },
  {
    key: 'cameraHealth',
    address: `${GW}/cameras/{camera}/health`,
    title: 'Camera health',
    action: 'send',
    qos: 1,
    retain: true,
    messages: ['CameraHealth'],
    description: 'Retained; on change and every 30 s.',
  },
  {
    key: 'speakerHealth',
    address: `${GW}/speakers/{speaker}/health`,
    title: 'Speaker health',
    action: 'send',
    qos: 1,
    retain: true,
    messages: ['SpeakerHealth'],
    description: 'Retained; on change.',
  },
  {
    key: 'telemetry',
    address: `${GW}/telemetry`,
    title: 'Telemetry',
    action: 'send',
    qos: 0,
    messages: ['Telemetry'],
    description: 'QoS 0, every minute. The only messages the gateway may drop (when its outbox is full, or after an hour).',
  },
  {
    key: 'stats',
    address: `${GW}/stats`,
    title: 'Statistics',
    action: 'send',
    qos: 1,
    retain: true,
    messages: ['Stats'],
    description: 'Retained; every stats.interval_s (300 s) and after a stats command. All events stored on the gateway.',
  },
  {
    key: 'replies',
    address: `${GW}/replies/{command}`,
    title: 'Command replies',
    action: 'send',
    qos: 1,
    messages: [...Object.keys(REPLY_DATA).map((n) => `${pascal(n)}Reply`), 'ErrorReply'],
    description:
      'Replies to commands that came without an MQTT 5 response topic (always under MQTT 3.1.1). {command} is the name the command was sent under ("/" in it becomes "_").',
  },
  ...Object.keys(COMMANDS).map(
    (n): Channel => ({
      key: `command${pascal(n)}`,
      address: `${GW}/commands/${n}`,
      title: `Command: ${n}`,
      action: 'receive',
      qos: 1,
      messages: [`${pascal(n)}Command`],
      reply: 'replies',
      description: `${(COMMANDS as Record<string, TSchema>)[n].description}. Never retained (a retained command is refused).`,
      expiry: n === 'shout' ? 'required: MQTT 5 message expiry or expires_at' : undefined,
    }),
  ),
  {
    key: 'officerAnswerReply',
    address: '{responseTopic}',
    title: "Reply to an officer's answer (MQTT 5)",
    action: 'send',
    qos: 1,
    messages: ['OfficerAnswerReply'],
    description: "Sent to the Response Topic the officer's app set on its answer, with its Correlation Data.",
  },
  {
    key: 'officerState',
    address: `${OFF}/state`,
    title: 'Officer state (from phones)',
    action: 'receive',
    qos: 1,
    messages: ['OfficerState'],
    description: 'The officer app reports position and duty. Not under a gateway: under "1+3" several gateways follow the same phone.',
  },
  {
    key: 'officerDispatch',
    address: `${OFF}/dispatch`,
    title: "Dispatches (to one officer's phone)",
    action: 'send',
    qos: 1,
    messages: ['Dispatch'],
    description:
      "Job offers to the officer, and every change of the dispatch's state, which is also how the app learns the result of its answers. Under MQTT 5 an offer expires at its answer_by time.",
  },
  {
    key: 'officerReply',
    address: `${OFF}/reply`,
    title: 'Officer answers',
    action: 'receive',
    qos: 1,
    messages: ['OfficerReply'],
    description:
      'accept / decline / arrived / closed, naming the dispatch_id. Under MQTT 5, an answer with a response topic also gets a reply envelope there (OfficerAnswerReply, command "officer_reply"); answers to another gateway\'s dispatch get none from this one.',
    replyTo: 'OfficerAnswerReply',
  },
  {
    key: 'officerClaim',
    address: `${OFF}/claims/{gateway}`,
    title: 'Officer claims (between gateways sharing officers)',
    action: 'send',
    qos: 1,
    retain: true,
    messages: ['OfficerClaim'],
    description: [
      "Only with fleet.claims on. Before offering a job, a gateway publishes a retained claim on its own topic for that officer and subscribes to everyone's (`{prefix}/v1/officers/+/claims/+`). It waits fleet.claim_settle_ms, then of all live claims for the officer the smallest (at, gateway_id, claim_id) wins; the others clear theirs (an empty retained payload) and ask their next candidate. An officer with a live claim by another gateway is not picked. The holder renews every claim_ttl_s / 3 while it has an open dispatch (offered, accepted, arrived) with the officer, and clears the claim when it has none.",
      'Guarantee: no officer has open dispatches from two gateways at once, provided every claim reaches every gateway within half the settle window (one broker or one cluster, connected). A gateway killed mid-claim never offers; its claim lapses after claim_ttl_s (MQTT 5 message expiry: the broker drops it), or at once when its last will (status "offline", after mqtt.will_delay_s) arrives. A gateway that cannot reach the broker claims nobody: its escalated events wait as unassigned (the platform is alerted) and are retried.',
      "Not guaranteed: across a partition longer than the TTL, a cut-off holder keeps its job while its claim lapses elsewhere, so another gateway may offer the same officer a second job (the phone shows both). A broker restart without persistence forgets retained claims; holders re-publish theirs within claim_ttl_s / 3, and during that gap a new claim may win beside an existing job. MQTT 3.1.1 has no message expiry: expires_at is then compared with the receiver's clock (keep clocks in NTP sync).",
    ].join('\n\n'),
  },
];

const ref = (path: string) => ({ $ref: path });
const paramsOf = (address: string) =>
  Object.fromEntries([...address.matchAll(/\{(\w+)\}/g)].map(([, p]) => [p, { description: PARAMS[p as Param] ?? 'the command name' }]));
const json = (s: TSchema): unknown => JSON.parse(JSON.stringify(s));

export function asyncApiDocument(version: string): Record<string, unknown> {
  const messages: Record<string, unknown> = {};
  for (const name of Object.keys(SCHEMAS)) {
    const s = SCHEMAS[name] as TSchema & { title?: string; description?: string };
    messages[name] = {
      name,
      title: s.title ?? name,
      summary: s.description,
      contentType: 'application/json',
      payload: ref(`#/components/schemas/${name}`),
      ...(name.endsWith('Command')
        ? {
            bindings: {
              mqtt: {
                bindingVersion: '0.2.0',
                contentType: 'application/json',
                responseTopic: {
                  type: 'string',
                  description: 'MQTT 5: where to send the reply (else {prefix}/v1/gateways/{gateway}/replies/{command})',
                },
                correlationData: { type: 'string', description: 'MQTT 5: any bytes; returned unchanged with the reply' },
              },
            },
          }
        : {}),
      ...(name.endsWith('Reply') && name !== 'OfficerReply'
        ? {
            bindings: {
              mqtt: {
                bindingVersion: '0.2.0',
                contentType: 'application/json',
                correlationData: { type: 'string', description: "MQTT 5: the request's correlation data" },
              },
            },
          }
        : {}),
      ...(EXAMPLES[name] ? { examples: EXAMPLES[name].map((payload, i) => ({ name: `${name}${i + 1}`, payload })) } : {}),
    };
  }
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  for (const c of CHANNELS) {
    channels[c.key] = {
      address: c.address,
      title: c.title,
      description: c.description,
      parameters: paramsOf(c.address),
      messages: Object.fromEntries(c.messages.map((m) => [m, ref(`#/components/messages/${m}`)])),
    };
    operations[`${c.action === 'send' ? 'publish' : 'receive'}${c.key[0].toUpperCase()}${c.key.slice(1)}`] = {
      action: c.action,
      channel: ref(`#/channels/${c.key}`),
      title: c.title,
      summary:
        c.action === 'send'
          ? `the gateway publishes (QoS ${c.qos}${c.retain ? ', retained' : ''})`
          : `the gateway subscribes; send with QoS ${c.qos}${c.expiry ? `; expiry ${c.expiry}` : ''}`,
      bindings: { mqtt: { bindingVersion: '0.2.0', qos: c.qos, retain: c.retain ?? false } },
      ...(c.reply
        ? {
            reply: {
              channel: ref(`#/channels/${c.reply}`),
              messages: [
                ref(`#/channels/${c.reply}/messages/${c.messages[0].replace(/Command$/, 'Reply')}`),
                ref(`#/channels/${c.reply}/messages/ErrorReply`),
              ],
            },
          }
        : {}),
      ...(c.replyTo
        ? {
            reply: {
              address: { location: '$message.header#/responseTopic', description: 'MQTT 5: the Response Topic of the answer' },
              channel: ref(`#/channels/${c.replyTo[0].toLowerCase()}${c.replyTo.slice(1)}`),
            },
          }
        : {}),
    };
  }
  return {
    asyncapi: '3.1.0',
    id: 'urn:township-gateway:mqtt-contract',
    info: {
      title: 'Township enforcement gateway: MQTT contract',
      version: `${CONTRACT_VERSION.slice(1)}.0.0`,
      description: OVERVIEW.replaceAll('{gatewayVersion}', version).trim(),
      license: { name: 'Apache-2.0' },
    },
    defaultContentType: 'application/json',
    servers: {
      platform: {
        host: 'platform.example.gov.cn:8883',
        protocol: 'secure-mqtt',
        protocolVersion: '5',
        description:
          "The township platform's broker (mqtts, username and password). The gateway also speaks MQTT 3.1.1 (mqtt.protocol_version: 4).",
        security: [ref('#/components/securitySchemes/userPassword')],
        bindings: {
          mqtt: {
            bindingVersion: '0.2.0',
            clientId: 'gw-{gateway}',
            cleanSession: false,
            keepAlive: 30,
            sessionExpiryInterval: 86400,
            lastWill: {
              topic: '{prefix}/v1/gateways/{gateway}/status',
              qos: 1,
              retain: true,
              message: '{"state":"offline","reason":"connection lost",...}',
            },
          },
        },
      },
    },
    channels,
    operations,
    components: {
      schemas: Object.fromEntries(Object.entries(SCHEMAS).map(([n, s]) => [n, json(s)])),
      messages,
      securitySchemes: {
        userPassword: {
          type: 'userPassword',
          description: 'mqtt.username and mqtt.password; with TLS (mqtts://, a private CA in mqtt.tls.ca)',
        },
      },
    },
  };
}

/** Topic filter → payload schema, for checking what the gateway publishes (tests). */
export function publishedChannels(): { address: string; schemas: string[] }[] {
  return CHANNELS.filter((c) => c.action === 'send').map((c) => ({ address: c.address, schemas: c.messages }));
}
