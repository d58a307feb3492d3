/** An MQTT subscriber that keeps everything it hears and can wait for a message. */
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';

export interface Heard {
  topic: string;
  text: string;
  json: Record<string, any> | null;
  retain: boolean;
  at: number;
}

export class Collector {
  readonly messages: Heard[] = [];
  client!: MqttClient;
  private waiters: { pred: (m: Heard) => boolean; ok: (m: Heard) => void }[] = [];

  static async connect(url: string, filter = '#', opts: IClientOptions = {}): Promise<Collector> {
    const c = new Collector();
    c.client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 300, ...opts });
    c.client.on('message', (topic, payload, packet) => {
      const text = payload.toString('utf8');
      let json = null;
      try {
        json = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      const m = { topic, text, json, retain: packet.retain, at: Date.now() };
      c.messages.push(m);
      c.waiters = c.waiters.filter((w) => (w.pred(m) ? (w.ok(m), false) : true));
    });
    await c.client.subscribeAsync(filter, { qos: 1 });
    return c;
  }

  find(pred: (m: Heard) => boolean): Heard[] {
    return this.messages.filter(pred);
  }

  waitFor(pred: (m: Heard) => boolean, timeoutMs: number, what = 'message'): Promise<Heard> {
    const seen = this.messages.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((ok, fail) => {
      const t = setTimeout(
        () =>
          fail(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${what}; heard ${this.messages.length} messages: ${this.messages
                .slice(-8)
                .map((m) => m.topic)
                .join(', ')}`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.push({ pred, ok: (m) => (clearTimeout(t), ok(m)) });
    });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
