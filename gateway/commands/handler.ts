/**
 * Commands from the platform on {gw}/commands/{name}. Every payload is checked against
 * its schema (gateway/api/schema/commands.ts) before anything happens; a bad one gets an
 * error reply and a log line and changes nothing. Replies use the envelope
 * {status, data | error, transaction}: under MQTT 5 to the response topic with the
 * correlation data, otherwise to {gw}/replies/{name}.
 *
 * Refused without running: retained messages (they would run again on every reconnect),
 * and anything past its expiry (MQTT 5 message expiry is enforced by the broker; the
 * payload's expires_at by us). A repeated transaction gets the first reply again.
 */
import type { IPublishPacket } from 'mqtt';
import type { Context } from '../context.ts';
import { Type } from '@sinclair/typebox';
import { readInbound } from '../api/inbound.ts';
import { COMMANDS, type CommandName, type CommandParams, type ReplyData, type ReplyEnvelope } from '../api/schema/commands.ts';
import { CommandError, envelope, replyTarget, sendReply } from './envelope.ts';
import { MAX_INBOUND_BYTES } from '../uplink/uplink.ts';

export interface CommandMeta {
  /** When the command stops being worth running: MQTT 5 message expiry or expires_at; null if neither. */
  expiresAt: number | null;
  receivedAt: number;
}

export type CommandActions = { [N in CommandName]: (p: CommandParams<N>, m: CommandMeta) => ReplyData[N] | Promise<ReplyData[N]> };

const REMEMBER_MS = 10 * 60_000;
const ANY = Type.Unknown();

export class Commands {
  private readonly ctx: Context;
  private readonly actions: CommandActions;
  private readonly seen = new Map<string, { at: number; reply: Promise<ReplyEnvelope> }>();
  private readonly prefix: string;

  constructor(ctx: Context, actions: CommandActions) {
    this.ctx = ctx;
    this.actions = actions;
    this.prefix = `${ctx.topics.gw}/commands/`;
  }

  /** Subscribes to this gateway's command topics only. */
  start(): void {
    this.ctx.uplink.on(this.ctx.topics.commandsAll(), (topic, payload, packet) => void this.handle(topic, payload, packet), {
      retainAsPublished: true,
      onOversize: (topic, bytes, packet) => this.tooLarge(topic, bytes, packet),
    });
  }

  /** A command refused unread for its size still gets its reply (no transaction: the payload was not read). */
  private tooLarge(topic: string, bytes: number, packet: IPublishPacket): void {
    if (!topic.startsWith(this.prefix)) return;
    const name = topic.slice(this.prefix.length).slice(0, 64);
    const target = replyTarget(packet, this.ctx.topics.reply(name.replaceAll('/', '_')), this.ctx.topics);
    const err = new CommandError('too_large', `payload of ${bytes} bytes is larger than the ${MAX_INBOUND_BYTES} bytes a command may have`);
    const reply = envelope(name, this.ctx.config.settings.gateway.id, this.ctx.clock.now(), null, { error: err });
    sendReply(this.ctx.uplink, target, reply, this.ctx.uplink.protocolVersion === 5);
  }

  async handle(topic: string, payload: Buffer, packet: IPublishPacket): Promise<ReplyEnvelope | null> {
    const { ctx } = this;
    if (!topic.startsWith(this.prefix)) {
      ctx.log.warn({ topic }, 'command on a foreign topic; ignored');
      return null;
    }
    const name = topic.slice(this.prefix.length);
    // A name of several levels (commands/a/b) is unknown; its reply stays one level deep.
    const target = replyTarget(packet, ctx.topics.reply(name.replaceAll('/', '_')), ctx.topics);
    const now = ctx.clock.now();
    let tx: unknown = null;
    const finish = (r: ReplyEnvelope) => {
      sendReply(ctx.uplink, target, r, ctx.uplink.protocolVersion === 5);
      return r;
    };
    const refuse = (e: CommandError) => {
      ctx.log.warn({ command: name, topic, code: e.code, transaction: tx ?? undefined, err: e.message }, 'command rejected');
      return finish(envelope(name, ctx.config.settings.gateway.id, ctx.clock.now(), tx, { error: e }));
    };

    const name0 = Object.hasOwn(COMMANDS, name) ? (name as CommandName) : null;
    // Parsed first (an unknown command still gets its transaction back), checked once the command is known.
    const parsed = readInbound<CommandParams<CommandName>>(name0 ? COMMANDS[name0] : ANY, payload, { empty: {} });
    if (!parsed.ok && parsed.code === 'bad_json') return refuse(new CommandError('bad_json', parsed.message));
    tx = parsed.transaction;
    if (packet.retain)
      return refuse(
        new CommandError(
          'retained',
          'retained commands are never run (they would run again on every reconnect); publish without retain, and clear the retained message',
        ),
      );
    if (!Object.hasOwn(COMMANDS, name))
      return refuse(new CommandError('unknown_command', `unknown command "${name}"; known: ${Object.keys(COMMANDS).join(', ')}`));
    const cmd = name as CommandName;
    if (!parsed.ok) return refuse(new CommandError('invalid', parsed.message, parsed.details));
    const params = parsed.msg as CommandParams<typeof cmd>;
    const expiry = packet.properties?.messageExpiryInterval;
    const expiresAt = params.expires_at ? Date.parse(params.expires_at) : expiry !== undefined ? now + expiry * 1000 : null;
    if (expiresAt !== null && expiresAt <= now)
      return refuse(
        new CommandError('expired', `arrived ${Math.round((now - expiresAt) / 1000)} s after it expired (expires_at ${params.expires_at})`),
      );

    const key =
      tx !== null
        ? `${name}\n${JSON.stringify(tx)}`
        : packet.properties?.correlationData
          ? `${name}\n${packet.properties.correlationData.toString('hex')}`
          : null;
    this.forget(now);
    const earlier = key ? this.seen.get(key) : undefined;
    if (earlier) {
      ctx.log.info({ command: name, transaction: tx }, 'repeated command; sending the first reply again');
      return finish(await earlier.reply);
    }
    const reply = this.run(cmd, params, { expiresAt, receivedAt: now }, tx);
    if (key) this.seen.set(key, { at: now, reply });
    const r = await reply;
    if (r.status === 'error')
      ctx.log.warn({ command: name, code: r.error?.code, transaction: tx ?? undefined, err: r.error?.message }, 'command failed');
    else ctx.log.info({ command: name, transaction: tx ?? undefined }, 'command done');
    return finish(r);
  }

  private async run<N extends CommandName>(cmd: N, params: CommandParams<N>, meta: CommandMeta, tx: unknown): Promise<ReplyEnvelope> {
    const gw = this.ctx.config.settings.gateway.id;
    try {
      const data = await this.actions[cmd](params, meta);
      return envelope(cmd, gw, this.ctx.clock.now(), tx, { data });
    } catch (e) {
      const err = e instanceof CommandError ? e : new CommandError('failed', (e as Error).message);
      if (!(e instanceof CommandError)) this.ctx.log.error({ command: cmd, err: (e as Error).stack }, 'command failed unexpectedly');
      return envelope(cmd, gw, this.ctx.clock.now(), tx, { error: err });
    }
  }

  private forget(now: number): void {
    for (const [k, v] of this.seen) {
      if (now - v.at < REMEMBER_MS && this.seen.size <= 1000) break;
      this.seen.delete(k);
    }
  }
}
