/**
 * The embedded MQTT broker (aedes), for a box with no broker of its own and for the
 * demo: anyone on the LAN can watch with `mosquitto_sub -h <box> -t '#' -v`.
 * aedes speaks MQTT 3.1.1 only, so the gateway talks 3.1.1 to it.
 */
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBroker {
  url: string;
  close(): Promise<void>;
}

export async function startBroker(host: string, port: number): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker({ drainTimeout: 30_000 });
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
  return {
    url: `mqtt://${host}:${actualPort}`,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        aedes.close(() => undefined);
        // Clients hold their sockets open; close() waits for them otherwise.
        setTimeout(ok, 500).unref();
      }),
  };
}
