/**
 * Simulated officers' phones (the officer app): each reports position and duty over MQTT,
 * and answers dispatches by a configurable behaviour: accept, decline or ignore (one
 * behaviour, or a list used in turn for successive offers). After accepting it reports
 * busy, travels to the place at `speedMps`, answers "arrived", works `workS` seconds and
 * answers "closed". A dispatch withdrawn or timed out ends the job.
 *
 *   node --import tsx scripts/sim/officers.ts --broker mqtt://127.0.0.1:1883 [--prefix township] \
 *     [--officer off-wang@28.7731,118.5583=decline,accept] [--answer-after 3] [--speed 15] [--work 10]
 */
import mqtt, { type MqttClient } from 'mqtt';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { haversineM } from '../../gateway/zones/geometry.ts';

export type Behaviour = 'accept' | 'decline' | 'ignore';

export interface SimOfficer {
  id: string;
  lat: number;
  lon: number;
  onDuty?: boolean;
  busy?: boolean;
  /** How to answer offers: one behaviour, or one per successive offer (the last repeats). Default: ignore. */
  behaviour?: Behaviour | Behaviour[];
  declineReason?: string;
}

export interface OfficerSimOptions {
  broker: string;
  prefix: string;
  officers: SimOfficer[];
  everyMs?: number;
  walk?: boolean;
  protocolVersion?: 4 | 5;
  /** Seconds before answering an offer. */
  answerAfterS?: number;
  /** Travel speed to the place, metres per second. */
  speedMps?: number;
  /** Seconds on the spot before closing. */
  workS?: number;
  onDispatch?: (officer: string, d: Record<string, unknown>) => void;
  /** Everything the phones do, for printing. */
  onAction?: (officer: string, action: string, detail: Record<string, unknown>) => void;
}

interface Job {
  dispatchId: string;
  lat: number;
  lon: number;
  state: 'accepted' | 'arrived';
  arrivedAt?: number;
}

export class OfficerSim {
  private client: MqttClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private tick: NodeJS.Timeout | null = null;
  private readonly pending = new Set<NodeJS.Timeout>();
  readonly dispatches: { officer: string; payload: Record<string, unknown> }[] = [];
  private readonly jobs = new Map<string, Job>();
  private readonly offers = new Map<string, number>();
  private stopped = false;
  private readonly o: OfficerSimOptions;

  constructor(o: OfficerSimOptions) {
    this.o = o;
  }

  private get root(): string {
    return `${this.o.prefix}/v1/officers`;
  }

  async start(): Promise<void> {
    this.client = await mqtt.connectAsync(this.o.broker, {
      clientId: `officer-sim-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      protocolVersion: this.o.protocolVersion ?? 4,
      reconnectPeriod: 1000,
    });
    await this.client.subscribeAsync(`${this.root}/+/dispatch`, { qos: 1 });
    this.client.on('message', (topic, payload) => {
      const officer = topic.slice(this.root.length + 1).split('/')[0];
      let d: Record<string, unknown>;
      try {
        d = JSON.parse(payload.toString()) as Record<string, unknown>;
      } catch {
        return;
      }
      this.dispatches.push({ officer, payload: d });
      this.o.onDispatch?.(officer, d);
      this.onDispatch(officer, d);
    });
    await this.report();
    this.timer = setInterval(() => void this.report(), this.o.everyMs ?? 20_000);
    this.tick = setInterval(() => this.move(1), 1000);
  }

  officer(id: string): SimOfficer | undefined {
    return this.o.officers.find((o) => o.id === id);
  }

  private behaviourFor(off: SimOfficer): Behaviour {
    const b = off.behaviour ?? 'ignore';
    if (!Array.isArray(b)) return b;
    const n = this.offers.get(off.id) ?? 0;
    this.offers.set(off.id, n + 1);
    return b[Math.min(n, b.length - 1)] ?? 'ignore';
  }

  private onDispatch(officer: string, d: Record<string, unknown>): void {
    const off = this.officer(officer);
    const id = String(d.dispatch_id);
    if (!off) return;
    if (d.state === 'offered') {
      if (this.jobs.has(officer)) return; // a real app would show it; this one is busy
      const b = this.behaviourFor(off);
      if (b === 'ignore') return void this.o.onAction?.(officer, 'ignores', { dispatch_id: id });
      this.later(this.o.answerAfterS ?? 3, async () => {
        if (b === 'decline')
          return this.answer(officer, { dispatch_id: id, action: 'decline', reason: off.declineReason ?? '正在处理其他事件' });
        const place = d.place as { lat: number; lon: number };
        this.jobs.set(officer, { dispatchId: id, lat: place.lat, lon: place.lon, state: 'accepted' });
        off.busy = true;
        await this.answer(officer, { dispatch_id: id, action: 'accept' });
        await this.report();
      });
    } else if (['withdrawn', 'timed_out'].includes(String(d.state)) && this.jobs.get(officer)?.dispatchId === id) {
      this.jobs.delete(officer);
      off.busy = false;
      this.o.onAction?.(officer, `stands down (${d.state})`, { dispatch_id: id });
    }
  }

  /** Moves officers on a job towards the place; arrives, works, closes. */
  private move(dt: number): void {
    const speed = this.o.speedMps ?? 15;
    for (const [id, job] of this.jobs) {
      const off = this.officer(id)!;
      if (job.state === 'accepted') {
        const dist = haversineM(off.lat, off.lon, job.lat, job.lon);
        const step = Math.min(1, (speed * dt) / Math.max(dist, 1e-6));
        off.lat += (job.lat - off.lat) * step;
        off.lon += (job.lon - off.lon) * step;
        if (dist <= speed * dt || dist < 25) {
          job.state = 'arrived';
          job.arrivedAt = Date.now();
          void this.answer(id, { dispatch_id: job.dispatchId, action: 'arrived' }).then(() => this.report());
        }
      } else if (Date.now() - job.arrivedAt! >= (this.o.workS ?? 10) * 1000) {
        this.jobs.delete(id);
        off.busy = false;
        void this.answer(id, { dispatch_id: job.dispatchId, action: 'closed', note: '已到场处理，车辆已驶离' }).then(() => this.report());
      }
    }
  }

  async answer(officer: string, reply: Record<string, unknown>): Promise<void> {
    if (this.stopped) return;
    this.o.onAction?.(officer, String(reply.action), reply);
    await this.client?.publishAsync(`${this.root}/${officer}/reply`, JSON.stringify({ ...reply, at: new Date().toISOString() }), {
      qos: 1,
    });
  }

  async report(): Promise<void> {
    for (const off of this.o.officers) {
      if (this.stopped) return;
      if (this.o.walk !== false && !this.jobs.has(off.id)) {
        off.lat += (Math.random() - 0.5) * 0.0004;
        off.lon += (Math.random() - 0.5) * 0.0004;
      }
      const state = {
        lat: +off.lat.toFixed(6),
        lon: +off.lon.toFixed(6),
        on_duty: off.onDuty !== false,
        busy: off.busy === true,
        at: new Date().toISOString(),
      };
      await this.client?.publishAsync(`${this.root}/${off.id}/state`, JSON.stringify(state), { qos: 1 });
    }
  }

  private later(s: number, fn: () => Promise<void> | void): void {
    const t = setTimeout(() => {
      this.pending.delete(t);
      void fn();
    }, s * 1000);
    this.pending.add(t);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.tick) clearInterval(this.tick);
    for (const t of this.pending) clearTimeout(t);
    await this.client?.endAsync();
  }
}

/** "off-wang@28.77,118.55=decline,accept" → a SimOfficer. */
export function parseOfficer(spec: string): SimOfficer {
  const m = /^([\w-]+)@(-?[\d.]+),(-?[\d.]+)(?:=([\w,]+))?$/.exec(spec);
  if (!m) throw new Error(`--officer ${spec}: expected id@lat,lon[=accept|decline|ignore,...]`);
  const behaviour = (m[4]?.split(',') ?? ['accept']) as Behaviour[];
  for (const b of behaviour)
    if (!['accept', 'decline', 'ignore'].includes(b)) throw new Error(`--officer ${spec}: unknown behaviour "${b}"`);
  return { id: m[1], lat: Number(m[2]), lon: Number(m[3]), behaviour };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values } = parseArgs({
    options: {
      broker: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
      prefix: { type: 'string', default: 'township' },
      officer: { type: 'string', multiple: true },
      'answer-after': { type: 'string', default: '3' },
      speed: { type: 'string', default: '15' },
      work: { type: 'string', default: '10' },
    },
  });
  const officers = values.officer?.map(parseOfficer) ?? [
    { id: 'off-wang', lat: 28.7705, lon: 118.5561, behaviour: 'decline' as const },
    { id: 'off-li', lat: 28.7801, lon: 118.5702, behaviour: 'accept' as const },
    { id: 'off-zhao', lat: 28.7402, lon: 118.5203, behaviour: 'accept' as const },
  ];
  const sim = new OfficerSim({
    broker: values.broker!,
    prefix: values.prefix!,
    officers,
    answerAfterS: Number(values['answer-after']),
    speedMps: Number(values.speed),
    workS: Number(values.work),
    onDispatch: (o, d) =>
      console.log(`${o} ← dispatch ${d.dispatch_id} ${d.state}: ${d.summary} (${d.distance_m} m)${d.reason ? ` — ${d.reason}` : ''}`),
    onAction: (o, a, d) => console.log(`${o} → ${a}${d.reason ? `: ${d.reason}` : ''}`),
  });
  await sim.start();
  console.log(`${officers.length} officers reporting; Ctrl-C to stop`);
}
