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
import type { Clock } from '../clock.ts';
import { OutboxRepo, PRIORITY, type NewMessage } from '../store/outbox.ts';
import type { Topics } from '../api/topics.ts';

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
}

type Handler = (topic: string, payload: Buffer, packet: mqtt.IPublishPacket) => void;

export class Uplink {
  private client: MqttClient | null = null;
  private readonly inFlight = new Set<number>();
  private readonly retained = new Map<string, string>();
  private readonly handlers: { filter: string; fn: Handler }[] = [];
  private draining = false;
  private tokens = 0;
  private lastRefill = 0;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  connected = false;
  published = 0;
  private readonly o: Required<Omit<UplinkOptions, 'username' | 'password' | 'tls'>> & Pick<UplinkOptions, 'username' | 'password' | 'tls'>;

  constructor(o: UplinkOptions) {
    this.o = { window: 32, replayPerSecond: 200, maxOutbox: 100_000, ...o };
  }

  start(): void {
    const t = this.o.topics;
    const offline = JSON.stringify({ state: 'offline', reason: 'connection lost', version: this.o.version });
    const opts: IClientOptions = {
      clientId: this.o.clientId,
      clean: true,
      protocolVersion: this.o.protocolVersion,
      username: this.o.username,
      password: this.o.password,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      keepalive: 30,
      // Our outbox decides what is sent; mqtt.js must not queue behind our back.
      queueQoSZero: false,
      will: {
        topic: t.status(), payload: Buffer.from(offline), qos: 1, retain: true,
        // MQTT 5: a short network blip should not flap the platform's view.
        ...(this.o.protocolVersion === 5 ? { properties: { willDelayInterval: 15 } } : {}),
      },
      ...(this.o.tls ?? {}),
    };
    const client = mqtt.connect(this.o.url, opts);
    this.client = client;
    client.on('connect', () => {
      this.connected = true;
      this.o.log.info({ broker: this.o.url }, 'MQTT connected');
      this.publishRetained(t.status(), JSON.stringify({ state: 'online', at: new Date(this.o.clock.now()).toISOString(), version: this.o.version }));
      for (const [topic, payload] of this.retained) if (topic !== t.status()) client.publish(topic, payload, { qos: 1, retain: true });
      const filters = [...new Set(this.handlers.map((h) => h.filter))];
      if (filters.length) client.subscribe(filters, { qos: 1 });
      this.tokens = this.o.window;
      this.drain();
    });
    client.on('close', () => {
      if (this.connected) this.o.log.warn({ broker: this.o.url, pending: this.o.outbox.size().messages }, 'MQTT disconnected; messages wait in the outbox');
      this.connected = false;
    });
    client.on('error', (e) => this.o.log.warn({ broker: this.o.url, err: e.message }, 'MQTT error'));
    client.on('message', (topic, payload, packet) => {
      for (const h of this.handlers) if (matches(h.filter, topic)) {
        try {
          h.fn(topic, payload, packet);
        } catch (e) {
          this.o.log.error({ topic, err: (e as Error).message }, 'MQTT handler failed');
        }
      }
    });
    // Drains again after backoffs, and prunes telemetry beyond the caps.
    this.timer = setInterval(() => {
      this.o.outbox.prune(this.o.clock.now(), this.o.maxOutbox);
      this.drain();
    }, 1000);
    this.timer.unref();
  }

  /** Subscribes for incoming messages (officer phones, platform commands). */
  on(filter: string, fn: Handler): void {
    this.handlers.push({ filter, fn });
    if (this.connected) this.client?.subscribe(filter, { qos: 1 });
  }

  /** Latest-value state, retained on the broker (health, status). */
  publishRetained(topic: string, payload: string): void {
    this.retained.set(topic, payload);
    if (this.connected) this.client?.publish(topic, payload, { qos: 1, retain: true });
  }

  /** Writes a message to the outbox. Call it inside the transaction that made the change. */
  enqueue(m: Omit<NewMessage, 'msgId'> & { msgId?: string }): string {
    const msgId = m.msgId ?? ulid();
    this.o.outbox.add({ ...m, msgId }, this.o.clock.now());
    return msgId;
  }

  /** Kicks the publisher (after a commit that enqueued something). */
  flush(): void {
    queueMicrotask(() => this.drain());
  }

  /** Publishes outside the outbox: replies and other messages with no value once stale. */
  publishNow(topic: string, payload: string, opts: mqtt.IClientPublishOptions = { qos: 0 }): void {
    if (this.connected) this.client?.publish(topic, payload, opts);
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.o.replayPerSecond, this.tokens + ((now - this.lastRefill) / 1000) * this.o.replayPerSecond);
    this.lastRefill = now;
  }

  private drain(): void {
    if (this.draining || !this.connected || !this.client || this.closing) return;
    this.draining = true;
    try {
      this.refill();
      const room = Math.min(this.o.window - this.inFlight.size, Math.floor(this.tokens));
      if (room <= 0) return;
      const batch = this.o.outbox.next(room, this.inFlight);
      for (const m of batch) {
        this.inFlight.add(m.id);
        this.tokens--;
        this.o.outbox.attempted(m.id);
        this.client.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain }, (err) => {
          this.inFlight.delete(m.id);
          if (err) {
            this.o.log.debug({ topic: m.topic, err: err.message }, 'publish failed; will retry');
            return;
          }
          this.o.outbox.delivered(m.id);
          this.published++;
          this.drain();
        });
      }
      if (batch.length === room && room > 0) setTimeout(() => this.drain(), 50).unref();
    } finally {
      this.draining = false;
    }
  }

  pending(): number {
    return this.o.outbox.size().messages;
  }

  /** Waits until the outbox is empty (tests, orderly shutdown), up to `ms`. */
  async settle(ms = 5000): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
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
      await new Promise<void>((ok) => c.publish(this.o.topics.status(), JSON.stringify({ state: 'offline', reason: 'stopped', version: this.o.version }), { qos: 1, retain: true }, () => ok()));
    }
    await new Promise<void>((ok) => c.end(false, {}, () => ok()));
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
