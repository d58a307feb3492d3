/**
 * Simulated officers' phones: each reports its position and duty over MQTT now and then,
 * walking a little, as the real app does. Dispatches are printed as they arrive.
 *
 *   node --import tsx scripts/sim/officers.ts --broker mqtt://127.0.0.1:1883 [--prefix township]
 */
import mqtt, { type MqttClient } from 'mqtt';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export interface SimOfficer {
  id: string;
  lat: number;
  lon: number;
  onDuty?: boolean;
  busy?: boolean;
}

export class OfficerSim {
  private client: MqttClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  readonly dispatches: { officer: string; payload: Record<string, unknown> }[] = [];
  private readonly o: { broker: string; prefix: string; officers: SimOfficer[]; everyMs?: number; walk?: boolean; onDispatch?: (officer: string, d: Record<string, unknown>) => void };

  constructor(o: { broker: string; prefix: string; officers: SimOfficer[]; everyMs?: number; walk?: boolean; onDispatch?: (officer: string, d: Record<string, unknown>) => void }) {
    this.o = o;
  }

  async start(): Promise<void> {
    const root = `${this.o.prefix}/v1/officers`;
    this.client = await mqtt.connectAsync(this.o.broker, { clientId: `officer-sim-${process.pid}-${Math.random().toString(16).slice(2, 8)}`, protocolVersion: 4, reconnectPeriod: 1000 });
    await this.client.subscribeAsync(`${root}/+/dispatch`, { qos: 1 });
    this.client.on('message', (topic, payload) => {
      const officer = topic.slice(root.length + 1).split('/')[0];
      const d = JSON.parse(payload.toString()) as Record<string, unknown>;
      this.dispatches.push({ officer, payload: d });
      this.o.onDispatch?.(officer, d);
    });
    await this.report();
    this.timer = setInterval(() => void this.report(), this.o.everyMs ?? 20_000);
  }

  async report(): Promise<void> {
    const root = `${this.o.prefix}/v1/officers`;
    for (const off of this.o.officers) {
      if (this.o.walk !== false) {
        off.lat += (Math.random() - 0.5) * 0.0004;
        off.lon += (Math.random() - 0.5) * 0.0004;
      }
      const state = { lat: +off.lat.toFixed(6), lon: +off.lon.toFixed(6), on_duty: off.onDuty !== false, busy: off.busy === true, at: new Date().toISOString() };
      await this.client?.publishAsync(`${root}/${off.id}/state`, JSON.stringify(state), { qos: 1 });
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.client?.endAsync();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values } = parseArgs({ options: { broker: { type: 'string', default: 'mqtt://127.0.0.1:1883' }, prefix: { type: 'string', default: 'township' } } });
  const sim = new OfficerSim({
    broker: values.broker!, prefix: values.prefix!,
    officers: [{ id: 'off-wang', lat: 28.7705, lon: 118.5561 }, { id: 'off-li', lat: 28.7801, lon: 118.5702 }, { id: 'off-zhao', lat: 28.7402, lon: 118.5203 }],
    onDispatch: (o, d) => console.log(`${o} got dispatch ${d.dispatch_id}: ${d.summary} (${d.distance_m} m)`),
  });
  await sim.start();
  console.log('officers reporting; Ctrl-C to stop');
}
