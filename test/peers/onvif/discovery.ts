/**
 * The WS-Discovery side of a fake ONVIF device: joins 239.255.255.250 on UDP 3702 and
 * answers a matching Probe with a unicast ProbeMatches, as cameras do.
 *
 * Several responders can live in one process: each has its own socket bound with
 * SO_REUSEADDR, and Linux hands every such socket its own copy of a multicast datagram.
 * Group membership is per interface, so to be found over loopback we join on 127.0.0.1
 * explicitly (and the prober must send with IP_MULTICAST_IF=127.0.0.1, or have a
 * 239.0.0.0/8 route via lo).
 */
import { randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import os from 'node:os';
import { kid, parse, render } from './soap.ts';

export interface ResponderOptions {
  endpoint: string;
  /** Computed per answer: the HTTP port is only known once the server listens. */
  xaddrs: () => string[];
  scopes: string[];
  /** IPv4 addresses to join the group on; default every IPv4 interface. */
  interfaces?: string[];
  port?: number;
  /** Ignore this many Probes first: emulates multicast loss. */
  dropProbes?: number;
  /** Cameras wait a random 0..APP_MAX_DELAY before answering; keep it short for tests. */
  maxDelayMs?: number;
}

const GROUP = '239.255.255.250';

export class DiscoveryResponder {
  private sock?: dgram.Socket;
  private messageNumber = 0;
  private readonly instanceId = Math.floor(Date.now() / 1000);
  /** Interfaces we joined the group on, and those where joining failed (with why). */
  readonly joined: string[] = [];
  readonly failed: { address: string; error: string }[] = [];
  /** Probes seen (answered or dropped), for assertions. */
  probes = 0;

  private readonly o: ResponderOptions;
  constructor(o: ResponderOptions) {
    this.o = o;
  }

  async start(): Promise<void> {
    const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    this.sock = sock;
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(this.o.port ?? 3702, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    sock.on('error', () => undefined); // a send to a vanished prober must not crash the test run
    const wanted =
      this.o.interfaces ??
      Object.values(os.networkInterfaces())
        .flat()
        .filter((a) => a?.family === 'IPv4')
        .map((a) => a!.address);
    for (const address of wanted) {
      try {
        sock.addMembership(GROUP, address);
        this.joined.push(address);
      } catch (e) {
        this.failed.push({ address, error: (e as Error).message });
      }
    }
    sock.on('message', (msg, rinfo) => void this.onMessage(msg, rinfo));
  }

  private async onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): Promise<void> {
    let probe;
    let messageId = '';
    try {
      const env = await parse(msg.toString('utf8'));
      probe = kid(env, 'Body', 'Probe');
      messageId = kid(env, 'Header', 'MessageID')?.text ?? '';
    } catch {
      return; // not for us
    }
    if (!probe) return; // our own ProbeMatches, Hello/Bye of others
    this.probes++;
    if (this.probes <= (this.o.dropProbes ?? 0)) return;
    // Types are QNames; prefixes vary by client (dn:, tdn:, dp0:), so compare local parts.
    const types = (kid(probe, 'Types')?.text ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((t) => t.slice(t.lastIndexOf(':') + 1));
    if (types.some((t) => t !== 'NetworkVideoTransmitter' && t !== 'Device')) return;
    const scopes = (kid(probe, 'Scopes')?.text ?? '').split(/\s+/).filter(Boolean);
    if (!scopes.every((s) => this.o.scopes.some((mine) => mine.startsWith(s)))) return;

    const answer = render('ProbeMatches', {
      messageId: randomUUID(),
      relatesTo: messageId,
      instanceId: this.instanceId,
      messageNumber: ++this.messageNumber,
      endpoint: this.o.endpoint,
      scopes: this.o.scopes.join(' '),
      xaddrs: this.o.xaddrs().join(' '),
    });
    const delay = Math.random() * (this.o.maxDelayMs ?? 20);
    setTimeout(() => this.sock?.send(answer, rinfo.port, rinfo.address), delay);
  }

  async stop(): Promise<void> {
    const sock = this.sock;
    this.sock = undefined;
    if (sock) await new Promise<void>((r) => sock.close(() => r()));
  }
}
