/**
 * Officers' answers on officers/{id}/reply: accept, decline, arrived, closed. The phone
 * learns the result from the dispatch's new state on officers/{id}/dispatch (both MQTT
 * versions); an MQTT 5 request with a response topic also gets a reply envelope.
 * Bad input is logged and changes nothing.
 */
import type { Context } from '../context.ts';
import type { Roster } from './roster.ts';
import type { AnswerResult } from '../core/decision.ts';
import { OfficerReply } from '../api/schema/dispatch.ts';
import { readInbound } from '../api/inbound.ts';
import { CommandError, envelope, replyTarget, sendReply } from '../commands/envelope.ts';

/** `answer` applies the officer's answer to the event (the event service's answer). */
export function subscribeOfficerReplies(ctx: Context, roster: Roster, answer: (officerId: string, r: OfficerReply) => AnswerResult): void {
  const gw = ctx.config.settings.gateway.id;
  ctx.uplink.on(ctx.topics.filter('officerReply'), (topic, payload, packet) => {
    const id = ctx.topics.officerOf(topic);
    const target = replyTarget(packet, '');
    const respond = (result: { data: unknown } | { error: CommandError }, tx?: unknown) => {
      if (target.requested)
        sendReply(ctx.uplink, target, envelope('officer_reply', gw, ctx.clock.now(), tx, result), true, 'officerAnswerReply');
    };
    const reject = (
      code: 'bad_json' | 'invalid' | 'not_found' | 'conflict',
      message: string,
      tx?: unknown,
      details?: { path: string; message: string }[],
    ) => {
      ctx.log.warn({ topic, err: message }, 'officer answer rejected');
      respond({ error: new CommandError(code, message, details) }, tx);
    };
    if (!id || !roster.has(id)) return reject('not_found', `officer "${id}" is not in this gateway's roster`);
    const m = readInbound<OfficerReply>(OfficerReply, payload, { what: 'message' });
    if (!m.ok) return reject(m.code, m.code === 'bad_json' ? 'not JSON' : m.message, m.transaction ?? undefined, m.details);
    const { msg, transaction: tx } = m;
    const r = answer(id, msg);
    if (!r.known) return ctx.log.debug({ officer: id, dispatch: msg.dispatch_id }, 'answer to a dispatch of another gateway; ignored');
    if (r.error) {
      ctx.log.info(
        { officer: id, dispatch: msg.dispatch_id, action: msg.action, state: r.state },
        `officer answer not applied: ${r.error}`,
      );
      return respond({ error: new CommandError('conflict', r.error) }, tx);
    }
    respond({ data: { dispatch_id: msg.dispatch_id, state: r.state, changed: r.changed } }, tx);
  });
}
