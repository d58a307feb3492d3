/**
 * A central-platform simulator: subscribes to every gateway, prints the event stream one
 * line per message, de-duplicates by msg_id, watches event sequence numbers for gaps,
 * and sends commands (MQTT 5 request/response, or 3.1.1 with the replies topic).
 *
 *   node --import tsx scripts/sim/platform.ts --broker mqtt://127.0.0.1:1883 [--prefix township]
 *        [--v4] [--username U --password P] [--command stats [--gateway demo-hecun] [--params '{}']]
 *
 * Without --command it keeps printing and reads commands from stdin, one per line:
 *   stats | resolve EVENT [reason] | cancel EVENT reason | shout CAMERA text | test_speaker SPEAKER | reload_config | NAME {json}
 */
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';

export interface PlatformMessage {
  topic: string;
  json: Record<string, any> | null;
  duplicate: boolean;
  at: number;
}

export interface Reply {
  status: 'ok' | 'error';
  command: string;
  transaction: string | number | null;
  data?: any;
  error?: { code: string; message: string; details?: { path: string; message: string }[] };
}

export class PlatformSim {
  readonly messages: PlatformMessage[] = [];
  readonly gaps: { gateway: string; missing: number[] }[] = [];
  client!: MqttClient;
  private readonly seenIds = new Set<string>();
  private readonly lastSeq = new Map<string, number>();
  private readonly waiters = new Map<string, (r: Reply) => void>();
  private readonly clientId = `platform-sim-${randomBytes(4).toString('hex')}`;
  private readonly o: { broker: string; prefix: string; protocolVersion?: 4 | 5; print?: (line: string) => void; mqtt?: IClientOptions };

  constructor(o: PlatformSim['o']) {
    this.o = o;
  }

  get v5(): boolean {
    return (this.o.protocolVersion ?? 5) === 5;
  }

  private get responseTopic(): string {
    return `${this.o.prefix}/v1/platform/${this.clientId}/replies`;
  }

  async start(): Promise<void> {
    this.client = await mqtt.connectAsync(this.o.broker, {
      clientId: this.clientId,
      protocolVersion: this.o.protocolVersion ?? 5,
      reconnectPeriod: 1000,
      ...this.o.mqtt,
    });
    this.client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet.properties?.correlationData));
    await this.client.subscribeAsync([`${this.o.prefix}/v1/gateways/+/#`, ...(this.v5 ? [this.responseTopic] : [])], { qos: 1 });
  }

  private onMessage(topic: string, payload: Buffer, correlation?: Buffer): void {
    let json: Record<string, any> | null = null;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      /* not JSON */
    }
    const id = json?.msg_id as string | undefined;
    const duplicate = !!id && this.seenIds.has(id);
    if (id) this.seenIds.add(id);
    this.messages.push({ topic, json, duplicate, at: Date.now() });
    if (json && /\/events$/.test(topic) && !duplicate) this.checkSeq(json.gateway, json.seq);
    if (json && (topic === this.responseTopic || /\/replies\//.test(topic))) {
      const key = correlation ? `c:${correlation.toString('hex')}` : `t:${JSON.stringify(json.transaction)}`;
      this.waiters.get(key)?.(json as Reply);
      this.waiters.delete(key);
    }
    if (!duplicate && json) this.o.print?.(describe(topic, json));
  }

  private checkSeq(gateway: string, seq: number): void {
    const last = this.lastSeq.get(gateway);
    if (last !== undefined && seq > last + 1) {
      const missing = Array.from({ length: seq - last - 1 }, (_, i) => last + 1 + i);
      this.gaps.push({ gateway, missing });
      this.o.print?.(`[${gateway}] ⚠ gap in event sequence: missing ${missing.join(', ')} (may still arrive after an outage)`);
    }
    if (last === undefined || seq > last) this.lastSeq.set(gateway, seq);
  }

  /** Sends a command and waits for its reply. */
  request(
    gateway: string,
    name: string,
    params: Record<string, unknown> = {},
    o: { timeoutMs?: number; expiryS?: number } = {},
  ): Promise<Reply> {
    const topic = `${this.o.prefix}/v1/gateways/${gateway}/commands/${name}`;
    const transaction = (params.transaction as string | undefined) ?? `sim-${randomBytes(6).toString('hex')}`;
    const correlation = randomBytes(8);
    const key = this.v5 ? `c:${correlation.toString('hex')}` : `t:${JSON.stringify(transaction)}`;
    return new Promise((ok, fail) => {
      const t = setTimeout(() => {
        this.waiters.delete(key);
        fail(new Error(`no reply to ${name} from ${gateway} within ${o.timeoutMs ?? 10_000} ms`));
      }, o.timeoutMs ?? 10_000);
      this.waiters.set(key, (r) => (clearTimeout(t), ok(r)));
      const properties = this.v5
        ? { responseTopic: this.responseTopic, correlationData: correlation, ...(o.expiryS ? { messageExpiryInterval: o.expiryS } : {}) }
        : undefined;
      this.client.publish(topic, JSON.stringify({ ...params, transaction }), { qos: 1, ...(properties ? { properties } : {}) });
    });
  }

  find(pred: (m: PlatformMessage) => boolean): PlatformMessage[] {
    return this.messages.filter(pred);
  }

  async stop(): Promise<void> {
    await this.client?.endAsync();
  }
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${Math.round(x * 100)}%`);
const secs = (d: { n: number; median_s: number | null; p90_s: number | null }) =>
  d.n ? `median ${d.median_s} s, p90 ${d.p90_s} s (n=${d.n})` : 'n/a';

/** One line for a message, as a duty officer at the platform would want to read it. */
export function describe(topic: string, m: Record<string, any>): string {
  try {
    return line(topic, m);
  } catch {
    return `[${topic.split('/')[3]}] ${topic} ${JSON.stringify(m).slice(0, 200)}`;
  }
}

function line(topic: string, m: Record<string, any>): string {
  const gw = `[${m.gateway ?? topic.split('/')[3]}]`;
  if (/\/replies\/|\/platform\//.test(topic))
    return `${gw} reply ${m.command}: ${m.status}${m.error ? ` ${m.error.code}: ${m.error.message}` : ''}`;
  if (topic.endsWith('/status')) return `${gw} status ${m.state}${m.reason ? ` (${m.reason})` : ''}`;
  if (topic.endsWith('/events'))
    return `${gw} EVENT #${m.seq} ${m.type} ${m.type_zh} at ${m.camera.name}/${m.zone.name} (${m.classes.join(', ')}, ${m.dwell_s} s) id ${m.id}${m.evidence?.url ? `\n      evidence ${m.evidence.url}` : ''}`;
  if (topic.endsWith('/state'))
    return `${gw}   event #${m.seq} ${m.from ?? '·'} → ${m.to}${m.officer_id ? ` [${m.officer_id}]` : ''}${m.reason ? ` — ${m.reason}` : ''}`;
  if (topic.endsWith('/warnings')) return `${gw}   warning on ${m.speaker}: ${m.outcome}${m.reason ? ` (${m.reason})` : ''} "${m.text}"`;
  if (topic.endsWith('/dispatches'))
    return `${gw}   dispatch ${m.state} ${m.officer_name} (${m.officer_id}, ${m.tier}${m.town ? ` ${m.town}` : ''}, ${m.distance_m} m, attempt ${m.attempt})${m.reason ? ` — ${m.reason}` : ''}`;
  if (topic.endsWith('/alerts')) return `${gw} ALERT ${m.kind}: ${m.message}`;
  if (topic.endsWith('/stats'))
    return `${gw} stats: ${m.events.total} events, settled by warning ${pct(m.settled_by_warning.share)} (${m.settled_by_warning.resolved}/${m.settled_by_warning.decided}); dispatch→accept ${secs(m.durations.dispatch_to_accept)}`;
  if (topic.endsWith('/health')) return `${gw} health ${m.camera ?? m.speaker}: ${m.state}${m.reason ? ` (${m.reason})` : ''}`;
  if (topic.endsWith('/telemetry')) return `${gw} telemetry: outbox ${m.outbox}, ${m.rss_mb} MB`;
  return `${gw} ${topic}`;
}

/** "resolve EVENT reason words" → [name, params]. */
export function parseCommandLine(line: string): [string, Record<string, unknown>] | null {
  const [name, ...rest] = line.trim().split(/\s+/);
  if (!name) return null;
  const text = rest.join(' ');
  if (text.startsWith('{')) return [name, JSON.parse(text)];
  switch (name) {
    case 'resolve':
      return [name, { event_id: rest[0], ...(rest[1] ? { reason: rest.slice(1).join(' ') } : {}) }];
    case 'cancel':
      return [name, { event_id: rest[0], reason: rest.slice(1).join(' ') || 'cancelled at the platform' }];
    case 'shout':
      return [name, { cameras: [rest[0]], text: rest.slice(1).join(' '), expires_at: new Date(Date.now() + 60_000).toISOString() }];
    case 'test_speaker':
      return [name, { speaker: rest[0] }];
    default:
      return [name, {}];
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values } = parseArgs({
    options: {
      broker: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
      prefix: { type: 'string', default: 'township' },
      v4: { type: 'boolean' },
      username: { type: 'string' },
      password: { type: 'string' },
      gateway: { type: 'string' },
      command: { type: 'string' },
      params: { type: 'string', default: '{}' },
    },
  });
  const sim = new PlatformSim({
    broker: values.broker!,
    prefix: values.prefix!,
    protocolVersion: values.v4 ? 4 : 5,
    print: (l) => console.log(l),
    mqtt: { username: values.username, password: values.password },
  });
  await sim.start();
  const gatewayOf = () => values.gateway ?? sim.messages.find((m) => m.json?.gateway)?.json?.gateway ?? 'demo-hecun';
  const send = async (name: string, params: Record<string, unknown>) => {
    const r = await sim
      .request(gatewayOf(), name, params)
      .catch((e: Error) => ({ status: 'error', error: { code: 'timeout', message: e.message } }) as Reply);
    console.log(JSON.stringify(r, null, 2));
  };
  if (values.command) {
    await new Promise((r) => setTimeout(r, 500));
    await send(values.command, JSON.parse(values.params!));
    await sim.stop();
  } else {
    console.log(
      'listening; type a command (stats, resolve EVENT, cancel EVENT reason, shout CAMERA text, test_speaker SPEAKER, reload_config)',
    );
    createInterface({ input: process.stdin }).on('line', (line) => {
      try {
        const c = parseCommandLine(line);
        if (c) void send(...c);
      } catch (e) {
        console.log(`? ${(e as Error).message}`);
      }
    });
  }
}
