/**
 * The gateway's MQTT connection to the central platform. Everything that must not be
 * lost goes through the durable outbox (SQLite) and leaves only when the broker has
 * acknowledged it; a message re-sent after a crash carries the same msg_id, so the
 * platform sees one message, not two. Retained state (status, health) is kept in memory
 * and republished on every connect: only its latest value matters.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { ulid } from 'ulid';
import type { Logger } from '../log.ts';
import { mono, Steady, type Clock } from '../clock.ts';
import { type OutboxRepo, PRIORITY, type NewMessage } from '../store/outbox.ts';
import type { Topics } from '../api/topics.ts';
import { CHANNELS, CONTRACT_VERSION, delivery } from '../api/channels.ts';

export interface UplinkOptions {
  url: string;
  username?: string;
  password?: string;
  protocolVersion: 4 | 5;
  clientId: string;
  topics: Topics;
  outbox: OutboxRepo;
  log: Logger;
  clock: Clock;
  version: string;
  /** Messages in flight at once. */
  window?: number;
  /** Replay rate after a reconnect, messages per second. */
  replayPerSecond?: number;
  maxOutbox?: number;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean };
  /** Persistent session: the broker keeps commands and officer answers for us this long while we are away. */
  sessionExpiryS?: number;
  /** MQTT 5: the last will waits this long, so brief drops do not flap the status. */
  willDelayS?: number;
  /** Inbound messages larger than this are refused before they are read (a 10 MB command blocked the loop for seconds). */
  maxInboundBytes?: number;
}

/** What a subscriber is told about a message refused for its size (a command owes a reply). */
export type OversizeHandler = (topic: string, bytes: number, packet: mqtt.IPublishPacket) => void;

export const MAX_INBOUND_BYTES = 256 * 1024;

/** What the connection is doing, for logs, /health and tests. */
export interface UplinkStatus {
  connected: boolean;
  /** The last connection problem, in words (e.g. "not authorized: check mqtt.username and mqtt.password"). */
  error: string | null;
  since: number;
}

/** Turns mqtt.js / TLS errors into what a technician should check. */
export function explainMqttError(e: Error & { code?: string | number }): string {
  const m = e.message;
  if (/not authori[sz]ed|bad user ?name or password/i.test(m))
    return `broker refused the connection: not authorized (check mqtt.username and mqtt.password): ${m}`;
  if (/self[- ]signed|unable to (get|verify)|certificate/i.test(m))
    return `TLS: the broker's certificate is not trusted or does not match (set mqtt.tls.ca to the CA file; the URL host must be in the certificate): ${m}`;
  if (e.code === 'ECONNREFUSED') return `broker not listening at this address: ${m}`;
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return `broker host name not found: ${m}`;
  return m;
}

type Handler = (topic: string, payload: Buffer, packet: mqtt.IPublishPacket) => void;

export class Uplink {
  private client: MqttClient | null = null;
  private readonly inFlight = new Set<number>();
  /** Acknowledged, their delivery not yet written (see markDelivered). */
  private readonly acked: number[] = [];
  /** Outbox id → the publish callback of a message in flight (to find it in mqtt.js's store). */
  private readonly callbacks = new Map<number, (err?: Error) => void>();
  /** Topic → latest payload and the publish options its channel gives. */
  private readonly retained = new Map<string, { payload: string; opts: mqtt.IClientPublishOptions }>();
  private readonly handlers: { filter: string; fn: Handler; rap: boolean; onOversize?: OversizeHandler }[] = [];
  private readonly linkListeners: ((up: boolean) => void)[] = [];
  private draining = false;
  private tokens = 0;
  private lastRefill = 0;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  connected = false;
  published = 0;
  /**
   * Outbox expiry runs on this: a message's expiry is stored as the wall time it was given
   * (a restart resumes it), but reckoned from its remaining time at enqueue on monotonic
   * time, so a clock step neither expires a stale offer early nor keeps one an hour longer.
   */
  private readonly steady: Steady;
  /** Monotonic time of the last connect (null: not connected), for how long the link has been up. */
  private upSince: number | null = null;
  private state: UplinkStatus = { connected: false, error: null, since: Date.now() };
  private readonly o: Required<Omit<UplinkOptions, 'username' | 'password' | 'tls'>> & Pick<UplinkOptions, 'username' | 'password' | 'tls'>;

  constructor(o: UplinkOptions) {
    this.o = {
      window: 32,
      replayPerSecond: 200,
      maxOutbox: 100_000,
      sessionExpiryS: 86_400,
      willDelayS: 15,
      maxInboundBytes: MAX_INBOUND_BYTES,
      ...o,
    };
    this.steady = new Steady(o.clock);
  }

  start(): void {
    const t = this.o.topics;
    const offline = JSON.stringify({ state: 'offline', reason: 'connection lost', version: this.o.version, contract: CONTRACT_VERSION });
    const v5 = this.o.protocolVersion === 5;
    const opts: IClientOptions = {
      clientId: this.o.clientId,
      // A persistent session: commands and officers' answers sent while we are away wait
      // at the broker (MQTT 5 message expiry still drops a stale shout).
      clean: false,
      ...(v5 ? { properties: { sessionExpiryInterval: this.o.sessionExpiryS } } : {}),
      // Wrong credentials are often fixed on the broker: keep trying, slowly.
      reconnectOnConnackError: true,
      protocolVersion: this.o.protocolVersion,
      username: this.o.username,
      password: this.o.password,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      // mqtt.js gives up on a silent broker after 1.5 keepalives: 15 s, not 45, of /health saying "ok"
      // while a hung broker (TCP up, nothing answered) holds everything we send.
      keepalive: 10,
      // Our outbox decides what is sent; mqtt.js must not queue behind our back.
      queueQoSZero: false,
      will: {
        topic: t.status(),
        payload: Buffer.from(offline),
        ...delivery('status'),
        // MQTT 5: a short network blip should not flap the platform's view.
        ...(v5 ? { properties: { willDelayInterval: this.o.willDelayS } } : {}),
      },
      ...(this.o.tls ?? {}),
    };
    const client = mqtt.connect(this.o.url, opts);
    this.client = client;
    client.on('connect', (connack) => {
      this.connected = true;
      this.upSince = mono(this.o.clock);
      client.options.reconnectPeriod = 2000;
      this.state = { connected: true, error: null, since: Date.now() };
      this.o.log.info({ broker: this.o.url, session_present: connack.sessionPresent }, 'MQTT connected');
      this.publishRetained(
        t.status(),
        JSON.stringify({
          state: 'online',
          at: new Date(this.o.clock.now()).toISOString(),
          version: this.o.version,
          contract: CONTRACT_VERSION,
        }),
      );
      for (const [topic, r] of this.retained) if (topic !== t.status()) client.publish(topic, r.payload, r.opts);
      const subs = Object.fromEntries(this.handlers.map((h) => [h.filter, this.subOpts(h.filter, h.rap)]));
      if (this.handlers.length) client.subscribe(subs);
      this.tokens = this.o.window;
      this.drain();
      this.tellLink(true);
    });
    client.on('close', () => {
      const lost = this.connected && !this.closing;
      if (lost)
        this.o.log.warn({ broker: this.o.url, pending: this.o.outbox.size().messages }, 'MQTT disconnected; messages wait in the outbox');
      this.connected = false;
      this.upSince = null;
      if (this.state.connected) this.state = { connected: false, error: this.state.error ?? 'connection lost', since: Date.now() };
      if (lost) this.tellLink(false);
    });
    client.on('error', (e) => {
      const why = explainMqttError(e);
      const auth = why.includes('not authorized');
      if (auth) client.options.reconnectPeriod = 30_000;
      // Once per new problem at warn/error; the same problem again at debug, not every 2 s.
      if (why !== this.state.error)
        this.o.log[auth ? 'error' : 'warn']({ broker: this.o.url, err: why }, auth ? 'MQTT not authorized' : 'MQTT error');
      else this.o.log.debug({ broker: this.o.url, err: why }, 'MQTT error (again)');
      this.state = { connected: false, error: why, since: this.state.error === why ? this.state.since : Date.now() };
    });
    client.on('message', (topic, payload, packet) => {
      if (payload.length > this.o.maxInboundBytes) return this.oversize(topic, payload.length, packet);
      for (const h of this.handlers)
        if (matches(h.filter, topic)) {
          try {
            h.fn(topic, payload, packet);
          } catch (e) {
            this.o.log.error({ topic: topic.slice(0, 200), err: e }, 'MQTT handler failed');
          }
        }
    });
    // Drains again after backoffs, and prunes telemetry beyond the caps.
    this.timer = setInterval(() => {
      this.prune();
      this.drain();
    }, 1000);
    this.timer.unref();
  }

  /** Drops expired messages and telemetry beyond the cap. */
  prune(): void {
    try {
      this.o.outbox.prune(this.steady.now(), this.o.maxOutbox);
    } catch (e) {
      // A full disk can refuse even a DELETE; the outbox is pruned again next second.
      this.o.log.warn({ err: e }, 'outbox prune failed');
    }
  }

  /** How long the link has been up, in monotonic ms (0: down). */
  upForMs(): number {
    return this.upSince === null ? 0 : mono(this.o.clock) - this.upSince;
  }

  private oversize(topic: string, bytes: number, packet: mqtt.IPublishPacket): void {
    // The topic is the sender's too: bounded, like everything else in this line.
    this.o.log.warn(
      { topic: topic.slice(0, 200), bytes, max: this.o.maxInboundBytes },
      'inbound MQTT message too large; refused without reading it',
    );
    for (const h of this.handlers)
      if (h.onOversize && matches(h.filter, topic)) {
        try {
          h.onOversize(topic, bytes, packet);
        } catch (e) {
          this.o.log.error({ topic: topic.slice(0, 200), err: e }, 'MQTT oversize handler failed');
        }
      }
  }

  /** Called with true on every connect and false when an established connection is lost (not on stop). */
  onLink(fn: (up: boolean) => void): void {
    this.linkListeners.push(fn);
  }

  private tellLink(up: boolean): void {
    for (const fn of this.linkListeners) {
      try {
        fn(up);
      } catch (e) {
        this.o.log.error({ err: e, up }, 'uplink listener failed');
      }
    }
  }

  status(): UplinkStatus {
    return { ...this.state };
  }

  get protocolVersion(): 4 | 5 {
    return this.o.protocolVersion;
  }

  /**
   * Subscribes for incoming messages (officer phones, platform commands). `retainAsPublished`
   * (MQTT 5) keeps the retain flag of live messages, so a retained command can be told apart.
   */
  on(filter: string, fn: Handler, o: { retainAsPublished?: boolean; onOversize?: OversizeHandler } = {}): void {
    const rap = o.retainAsPublished === true;
    const opts = this.subOpts(filter, rap);
    this.handlers.push({ filter, fn, rap, onOversize: o.onOversize });
    if (this.connected) this.client?.subscribe(filter, opts);
  }

  /** Subscribed with the QoS of the filter's channel; a filter on no channel of the table is a mistake. */
  private subOpts(filter: string, rap: boolean): { qos: 0 | 1; rap?: boolean } {
    const key = this.o.topics.channelOf(filter);
    if (!key) throw new Error(`no channel in api/channels.ts for the topic filter ${filter}`);
    const { qos } = CHANNELS[key];
    return rap && this.o.protocolVersion === 5 ? { qos, rap: true } : { qos };
  }

  /** Latest-value state, retained on the broker (health, status, stats): a channel the table says is retained. */
  publishRetained(topic: string, payload: string): void {
    const key = this.o.topics.channelOf(topic);
    if (!key || !CHANNELS[key].retain) throw new Error(`${topic} is on no retained channel in api/channels.ts`);
    const opts = delivery(key);
    this.retained.set(topic, { payload, opts });
    if (this.connected) this.client?.publish(topic, payload, opts);
  }

  /** Writes a message to the outbox. Call it inside the transaction that made the change. */
  enqueue(m: Omit<NewMessage, 'msgId'> & { msgId?: string }): string {
    const msgId = m.msgId ?? ulid();
    const expiresAt = m.expiresAt == null ? null : this.steady.now() + (m.expiresAt - this.o.clock.now());
    this.o.outbox.add({ ...m, msgId, expiresAt }, this.o.clock.now());
    return msgId;
  }

  /**
   * Takes back messages not yet delivered that a newer one replaces (a paused offer): out
   * of the outbox, and out of mqtt.js's store if in flight, which would otherwise send them
   * again after a reconnect. Call it inside the transaction that writes the newer message.
   */
  unsend(topic: string, orderKey: string | null, fields: Record<string, string>): number {
    const ids = this.o.outbox.unsend(topic, orderKey, fields);
    for (const id of ids) {
      const cb = this.callbacks.get(id);
      const out = this.client?.outgoing ?? {};
      const mid = cb && Object.keys(out).find((k) => out[Number(k)]?.cb === cb);
      if (mid) this.client?.removeOutgoingMessage(Number(mid));
    }
    return ids.length;
  }

  /** Kicks the publisher (after a commit that enqueued something). */
  flush(): void {
    queueMicrotask(() => this.drain());
  }

  /** Publishes outside the outbox: replies and other messages with no value once stale (`opts` from the channel table). */
  publishNow(topic: string, payload: string, opts: mqtt.IClientPublishOptions): void {
    if (this.connected) this.client?.publish(topic, payload, opts);
  }

  /** Publishes outside the outbox and resolves once the broker has it (PUBACK); rejects when offline. */
  publishAcked(topic: string, payload: string, opts: mqtt.IClientPublishOptions): Promise<void> {
    const c = this.client;
    if (!this.connected || !c) return Promise.reject(new Error(`not connected to ${this.o.url}`));
    return new Promise((ok, fail) => c.publish(topic, payload, opts, (err) => (err ? fail(err) : ok())));
  }

  /** The send budget runs on monotonic time: a wall clock stepped back must not stall publishing. */
  private refill(): void {
    const now = mono(this.o.clock);
    this.tokens = Math.min(this.o.replayPerSecond, this.tokens + ((now - this.lastRefill) / 1000) * this.o.replayPerSecond);
    this.lastRefill = now;
  }

  private drain(): void {
    if (this.draining || !this.connected || !this.client || this.closing) return;
    this.draining = true;
    try {
      this.send();
    } catch (e) {
      this.o.log.warn({ err: e }, 'outbox could not be read or updated; trying again in a second');
    } finally {
      this.draining = false;
    }
  }

  /** The acknowledgements of one turn, marked in one transaction. */
  private markDelivered(): void {
    const ids = this.acked.splice(0);
    if (!ids.length) return;
    for (const id of ids) this.inFlight.delete(id);
    try {
      this.o.outbox.delivered(ids);
    } catch (e) {
      // Not recorded as delivered (full disk): sent again later with the same msg_id, which the platform drops.
      this.o.log.warn({ messages: ids.length, err: e }, 'delivered messages could not be marked; they will be re-sent');
      return;
    }
    this.published += ids.length;
    this.drain();
  }

  private send(): void {
    const client = this.client;
    if (!client) return;
    this.refill();
    const room = Math.min(this.o.window - this.inFlight.size, Math.floor(this.tokens));
    if (room <= 0) return;
    const batch = this.o.outbox.next(room, this.inFlight);
    // First, so a write that fails (full disk) leaves nothing marked in flight.
    if (batch.length) this.o.outbox.attempted(batch.map((m) => m.id));
    for (const m of batch) {
      this.inFlight.add(m.id);
      this.tokens--;
      // MQTT 5: what expires in our outbox also expires at the broker (a stale offer never reaches a phone).
      const expiry =
        this.o.protocolVersion === 5 && m.expiresAt !== null ? Math.max(1, Math.ceil((m.expiresAt - this.steady.now()) / 1000)) : 0;
      const props = expiry ? { properties: { messageExpiryInterval: expiry } } : {};
      const done = (err?: Error) => {
        this.callbacks.delete(m.id);
        if (err) {
          this.inFlight.delete(m.id);
          this.o.log.debug({ topic: m.topic, err }, 'publish failed; will retry');
          return;
        }
        // Still in flight (not picked again) until its delivery is written with the others
        // acknowledged in the same turn of the event loop.
        this.acked.push(m.id);
        if (this.acked.length === 1) setImmediate(() => this.markDelivered());
      };
      this.callbacks.set(m.id, done);
      client.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain, ...props }, done);
    }
    if (batch.length === room && room > 0) setTimeout(() => this.drain(), 50).unref();
  }

  pending(): number {
    return this.o.outbox.size().messages;
  }

  /** Waits until the outbox is empty (tests, orderly shutdown), up to `ms`. */
  async settle(ms = 5000): Promise<boolean> {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      if (this.pending() === 0) return true;
      this.drain();
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.pending() === 0;
  }

  /** Drops the connection at once, with no goodbye: what a crash does (tests use it). */
  destroy(): void {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    this.client?.end(true);
  }

  async stop(): Promise<void> {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    const c = this.client;
    if (!c) return;
    if (this.connected) {
      // An orderly stop says so; the will is for crashes.
      await new Promise<void>((ok) =>
        c.publish(
          this.o.topics.status(),
          JSON.stringify({
            state: 'offline',
            reason: 'stopped',
            at: new Date(this.o.clock.now()).toISOString(),
            version: this.o.version,
            contract: CONTRACT_VERSION,
          }),
          delivery('status'),
          () => ok(),
        ),
      );
    }
    await new Promise<void>((ok) => c.end(false, {}, () => ok()));
    // The last acknowledgements, before the store closes.
    if (this.acked.length) this.markDelivered();
  }
}

export { PRIORITY };

/** MQTT topic filter matching with + and #. */
export function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
