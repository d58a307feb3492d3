/**
 * The AsyncAPI 3 document of the MQTT contract, built from the channel table
 * (api/channels.ts) and the TypeBox schemas the code uses (api/schema/).
 * `node --import tsx scripts/asyncapi.ts` writes it to docs/asyncapi.yaml; a test fails
 * when the file and this builder disagree.
 */
import type { TSchema } from '@sinclair/typebox';
import { CHANNELS, CONTRACT_VERSION, PAYLOADS, type Channel } from './channels.ts';
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

const ref = (path: string) => ({ $ref: path });
const paramsOf = (address: string) =>
  Object.fromEntries([...address.matchAll(/\{(\w+)\}/g)].map(([, p]) => [p, { description: PARAMS[p as Param] ?? 'the command name' }]));
const json = (s: TSchema): unknown => JSON.parse(JSON.stringify(s));
const expiryWords = (c: Channel) => (!c.expiry ? '' : 'seconds' in c.expiry ? `${c.expiry.seconds} s` : c.expiry.from);
/** The MQTT binding's messageExpiryInterval: the number when fixed, else a schema saying where it comes from. */
const expiryBinding = (c: Channel) =>
  !c.expiry || c.direction !== 'publish'
    ? {}
    : { messageExpiryInterval: 'seconds' in c.expiry ? c.expiry.seconds : { type: 'integer', description: c.expiry.from } };

export function asyncApiDocument(version: string): Record<string, unknown> {
  const messages: Record<string, unknown> = {};
  for (const name of Object.keys(PAYLOADS)) {
    const s = PAYLOADS[name] as TSchema & { title?: string; description?: string };
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
                  description: `MQTT 5: where to send the reply (else ${CHANNELS.replies.address})`,
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
  for (const [key, c] of Object.entries(CHANNELS)) {
    const send = c.direction === 'publish';
    channels[key] = {
      address: c.address,
      title: c.title,
      description: c.description,
      parameters: paramsOf(c.address),
      messages: Object.fromEntries(c.messages.map((m) => [m, ref(`#/components/messages/${m}`)])),
    };
    operations[`${send ? 'publish' : 'receive'}${key[0].toUpperCase()}${key.slice(1)}`] = {
      action: send ? 'send' : 'receive',
      channel: ref(`#/channels/${key}`),
      title: c.title,
      summary: send
        ? `the gateway publishes (QoS ${c.qos}${c.retain ? ', retained' : ''}${c.expiry ? `; MQTT 5 expiry ${expiryWords(c)}` : ''})`
        : `the gateway subscribes; send with QoS ${c.qos}${c.expiry ? `; expiry ${expiryWords(c)}` : ''}`,
      bindings: { mqtt: { bindingVersion: '0.2.0', qos: c.qos, retain: c.retain, ...expiryBinding(c) } },
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
              topic: CHANNELS.status.address,
              qos: CHANNELS.status.qos,
              retain: CHANNELS.status.retain,
              message: '{"state":"offline","reason":"connection lost",...}',
            },
          },
        },
      },
    },
    channels,
    operations,
    components: {
      schemas: Object.fromEntries(Object.entries(PAYLOADS).map(([n, s]) => [n, json(s)])),
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
