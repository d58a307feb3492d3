/**
 * The reply envelope {status, data | error, transaction} and where a reply goes: under
 * MQTT 5 to the request's response topic with its correlation data; otherwise (or with
 * no response topic) to the documented fallback topic.
 */
import type { IPublishPacket } from 'mqtt';
import type { Uplink } from '../uplink/uplink.ts';
import type { ErrorCode, ReplyEnvelope } from '../api/schema/commands.ts';
import type { Topics } from '../api/topics.ts';
import { delivery, type ChannelKey } from '../api/channels.ts';

/** A larger reply is replaced by an error saying so (every validation error listed once made a 58 MB reply). */
export const MAX_REPLY_BYTES = 256 * 1024;

function ownTree(topic: string, t: Topics): boolean {
  return (
    topic.startsWith(`${t.officersRoot}/`) ||
    (topic.startsWith(`${t.gw}/`) && !topic.startsWith(`${t.replies()}/`)) ||
    /\/gateways\/[^/]+\/commands(\/|$)/.test(topic)
  );
}

export class CommandError extends Error {
  readonly code: ErrorCode;
  readonly details?: { path: string; message: string }[];
  constructor(code: ErrorCode, message: string, details?: { path: string; message: string }[]) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

export interface ReplyTarget {
  topic: string;
  correlationData?: Buffer;
  /** True when the request named its own response topic (MQTT 5). */
  requested: boolean;
}

/**
 * Where the reply to `packet` goes. A response topic with wildcards is not usable, nor one
 * inside the contract's own tree (a command topic, an officer's topic, this gateway's
 * messages): a request must not make the gateway publish as someone it is not.
 */
export function replyTarget(packet: IPublishPacket, fallback: string, topics?: Topics): ReplyTarget {
  const p = packet.properties;
  const rt = p?.responseTopic;
  if (rt && !/[+#]/.test(rt) && !(topics && ownTree(rt, topics)))
    return { topic: rt, correlationData: p?.correlationData, requested: true };
  return { topic: fallback, correlationData: p?.correlationData, requested: false };
}

export function envelope(
  command: string,
  gateway: string,
  at: number,
  transaction: unknown,
  result: { data: unknown } | { error: CommandError },
): ReplyEnvelope {
  const tx = typeof transaction === 'string' || (typeof transaction === 'number' && Number.isInteger(transaction)) ? transaction : null;
  const base = { command, gateway, at: new Date(at).toISOString(), transaction: tx };
  if ('error' in result) {
    const { code, message, details } = result.error;
    return { status: 'error', ...base, error: { code, message, ...(details?.length ? { details } : {}) } };
  }
  return { status: 'ok', ...base, data: result.data };
}

/**
 * Publishes a reply at once, with the QoS and retain of its channel (command replies unless
 * told). Replies are not kept in the outbox: a stale reply helps nobody.
 */
export function sendReply(
  uplink: Uplink,
  target: ReplyTarget,
  reply: ReplyEnvelope,
  v5: boolean,
  channel: Extract<ChannelKey, 'replies' | 'officerAnswerReply'> = 'replies',
): void {
  const properties = v5
    ? { contentType: 'application/json', ...(target.correlationData ? { correlationData: target.correlationData } : {}) }
    : undefined;
  let text = JSON.stringify(reply);
  if (Buffer.byteLength(text) > MAX_REPLY_BYTES) {
    const { data: _d, error: _e, ...base } = reply;
    const message = `the reply (${Buffer.byteLength(text)} bytes) is larger than the ${MAX_REPLY_BYTES} bytes a reply may have${reply.error ? `; it began: ${reply.error.message.slice(0, 500)}` : ''}`;
    text = JSON.stringify({ ...base, status: 'error', error: { code: 'too_large', message } });
  }
  uplink.publishNow(target.topic, text, { ...delivery(channel), ...(properties ? { properties } : {}) });
}
