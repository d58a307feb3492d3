/**
 * The embedded MQTT broker (aedes), run in a child process (broker-process.ts), for a box with no broker of its own and for the
 * demo: anyone on the box can watch with `mosquitto_sub -p 1883 -t '#' -v`.
 * aedes speaks MQTT 3.1.1 only, so the gateway talks 3.1.1 to it.
 *
 * Bound to loopback by default. With credentials (required by the settings check when it
 * is bound anywhere else) every client must log in: the gateway's username has the whole
 * tree; an officer logs in with the officer id and officers[].password and may publish
 * only to that officer's own topics and subscribe only below them.
 */
import { createServer, type Server } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { Aedes, type AedesOptions, type Client } from 'aedes';
import type { Topics } from '../api/topics.ts';

export interface EmbeddedBroker {
  url: string;
  close(): Promise<void>;
}

export interface BrokerAuth {
  username: string;
  password: string;
  officers: { id: string; password?: string }[];
  topics: Topics;
}

const same = (a: string, b: Buffer | undefined) => !!b && b.length === Buffer.byteLength(a) && timingSafeEqual(Buffer.from(a), b);

function refused(message: string, returnCode: 4 | 5) {
  return Object.assign(new Error(message), { returnCode });
}

/** Login and ACL: who a client is (the gateway, or one officer) decides what it may touch. */
function access(auth: BrokerAuth): Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'> {
  const officerOf = new WeakMap<Client, string>();
  const officers = new Map(auth.officers.filter((o) => o.password).map((o) => [o.id, o.password!]));
  const own = (client: Client | null, topic: string) => {
    const id = client ? officerOf.get(client) : undefined;
    return id === undefined || topic === auth.topics.officerState(id) || topic === auth.topics.officerReply(id);
  };
  return {
    authenticate: (client, username, password, done) => {
      if (username === auth.username && same(auth.password, password)) return done(null, true);
      const pw = username !== undefined ? officers.get(username) : undefined;
      if (pw !== undefined && same(pw, password)) {
        officerOf.set(client, username!);
        return done(null, true);
      }
      done(refused(`bad username or password for ${username ?? '(anonymous)'}`, 4), false);
    },
    authorizePublish: (client, packet, done) =>
      own(client, packet.topic)
        ? done(null)
        : done(new Error(`officer ${client && officerOf.get(client)} may not publish to ${packet.topic}`)),
    authorizeSubscribe: (client, sub, done) => {
      const id = officerOf.get(client);
      if (id === undefined || sub.topic.startsWith(`${auth.topics.officersRoot}/${id}/`)) return done(null, sub);
      // null: refused in the SUBACK (0x80), the connection stays up.
      done(null, null);
    },
  };
}

/** Serves the broker in this process (the child's). */
export async function serveBroker(host: string, port: number, auth?: BrokerAuth): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker({ drainTimeout: 30_000, ...(auth ? access(auth) : {}) });
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      fail(
        new Error(
          e.code === 'EADDRINUSE'
            ? `embedded MQTT broker: ${host}:${port} is already in use (another broker? set mqtt.url to use it, or change mqtt.embedded.port)`
            : `embedded MQTT broker: ${e.message}`,
        ),
      ),
    );
    server.listen(port, host, () => ok());
  });
  const addr = server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    url: `mqtt://${urlHost}:${actualPort}`,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        aedes.close(() => undefined);
        // Clients hold their sockets open; close() waits for them otherwise.
        setTimeout(ok, 500).unref();
      }),
  };
}
