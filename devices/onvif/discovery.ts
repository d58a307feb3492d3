/**
 * WS-Discovery (ONVIF's 2005/04 dialect): multicast a Probe, collect the unicast
 * ProbeMatches. Three habits make it find what is there:
 *
 * - One socket per IPv4 interface, loopback included, with IP_MULTICAST_IF set. The
 *   kernel otherwise sends only out of the default-route interface: a box with a camera
 *   LAN on a second NIC would find nothing, and loopback needs no route this way.
 * - Several probes: multicast over UDP loses packets, and cameras answering a burst
 *   of probes at boot lose some too.
 * - Two probe types per round: NetworkVideoTransmitter (cameras) and tds:Device (some
 *   NVRs and encoders answer only that), de-duplicated by endpoint reference.
 */
import { randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import os from 'node:os';
import { DeviceError } from '../errors.ts';
import { at, children, localPart, parseEnvelope, textAt } from './xml.ts';

export const WSD_GROUP = '239.255.255.250';
export const WSD_PORT = 3702;

export interface DiscoverOptions {
  /** Total listening time. Default 3000 ms. */
  timeoutMs?: number;
  /** Probe rounds, spaced intervalMs apart. Default 3. */
  probes?: number;
  intervalMs?: number;
  /** Interface names or IPv4 addresses to probe on; default every IPv4 interface. */
  interfaces?: string[];
  /** Destination port (tests); default 3702. */
  port?: number;
}

export interface DiscoveredDevice {
  /** EndpointReference address (urn:uuid:...): stable across IP changes. */
  endpoint: string;
  /** Where the answer came from. */
  address: string;
  /** Device service URLs as advertised. */
  xaddrs: string[];
  /** The XAddr to hand to probe(): one on `address` when the device lists several. */
  url: string;
  /** Best guess from scopes (Hikvision: name "HIKVISION DS-2CD2043G0-I", hardware "DS-2CD2043G0-I"). */
  maker?: string;
  model?: string;
  name?: string;
  hardware?: string;
  location?: string;
  types: string[];
  scopes: string[];
  /** Local interface addresses it answered on. */
  via: string[];
}

export interface ProbedInterface {
  name: string;
  address: string;
  /** Why this interface could not be probed (bind or send failed). */
  error?: string;
}

export interface DiscoveryResult {
  devices: DiscoveredDevice[];
  interfaces: ProbedInterface[];
}

function probeMessage(messageId: string, type: 'dn:NetworkVideoTransmitter' | 'tds:Device'): Buffer {
  return Buffer.from(
    '<?xml version="1.0" encoding="UTF-8"?>' +
      '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"' +
      ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"' +
      ' xmlns:tds="http://www.onvif.org/ver10/device/wsdl">' +
      '<s:Header><a:MessageID>' +
      messageId +
      '</a:MessageID>' +
      '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>' +
      '<a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action></s:Header>' +
      '<s:Body><d:Probe><d:Types>' +
      type +
      '</d:Types></d:Probe></s:Body></s:Envelope>',
  );
}

function listInterfaces(wanted?: string[]): ProbedInterface[] {
  const out: ProbedInterface[] = [];
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4') continue;
      if (wanted && !wanted.includes(name) && !wanted.includes(a.address)) continue;
      out.push({ name, address: a.address });
    }
  }
  return out;
}

/** Reads name/hardware/location/mfr from onvif://www.onvif.org/<key>/<value> scopes. */
export function readScopes(scopes: string[]): Pick<DiscoveredDevice, 'maker' | 'model' | 'name' | 'hardware' | 'location'> {
  const get = (...keys: string[]) => {
    for (const s of scopes) {
      const m = /^onvif:\/\/www\.onvif\.org\/([^/]+)\/(.+)$/i.exec(s);
      if (!m || !keys.includes(m[1]!.toLowerCase())) continue;
      try {
        return decodeURIComponent(m[2]!).trim();
      } catch {
        return m[2]!.trim();
      }
    }
    return undefined;
  };
  const name = get('name');
  const hardware = get('hardware');
  let maker = get('mfr', 'manufacturer');
  if (!maker && name && hardware && name !== hardware && name.endsWith(hardware)) maker = name.slice(0, -hardware.length).trim();
  else if (!maker && name && hardware && !name.includes(hardware) && !/\s/.test(name)) maker = name; // Dahua: name/Dahua
  return { maker: maker || undefined, model: hardware, name, hardware, location: get('location') };
}

/** Finds ONVIF devices on every IPv4 interface. Throws DeviceError only when no interface could be used. */
export async function discover(opts: DiscoverOptions = {}): Promise<DiscoveryResult> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const probes = Math.max(1, opts.probes ?? 3);
  const intervalMs = Math.min(opts.intervalMs ?? 500, timeoutMs / probes);
  const port = opts.port ?? WSD_PORT;
  const interfaces = listInterfaces(opts.interfaces);
  const found = new Map<string, DiscoveredDevice>();
  const parsing: Promise<void>[] = [];

  const onMessage = (iface: ProbedInterface) => (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    parsing.push(
      parseEnvelope(msg.toString('utf8'))
        .then((env) => {
          // Answers come unicast to this ephemeral port, so they are ours; we do not check
          // RelatesTo because some firmwares echo our MessageID without its "urn:".
          for (const m of children(at(env.body, 'ProbeMatches'), 'ProbeMatch')) {
            const xaddrs = textAt(m, 'XAddrs').split(/\s+/).filter(Boolean);
            const endpoint = textAt(m, 'EndpointReference', 'Address') || xaddrs[0] || rinfo.address;
            const types = textAt(m, 'Types').split(/\s+/).filter(Boolean);
            const scopes = textAt(m, 'Scopes').split(/\s+/).filter(Boolean);
            const prev = found.get(endpoint);
            if (prev) {
              if (!prev.via.includes(iface.address)) prev.via.push(iface.address);
              continue;
            }
            const onSender = xaddrs.find((x) => URL.canParse(x) && new URL(x).hostname === rinfo.address);
            found.set(endpoint, {
              endpoint,
              address: rinfo.address,
              xaddrs,
              url: onSender ?? xaddrs[0] ?? `http://${rinfo.address}/onvif/device_service`,
              ...readScopes(scopes),
              types: types.map(localPart),
              scopes,
              via: [iface.address],
            });
          }
        })
        .catch(() => undefined), // not XML, not SOAP: some other WS-Discovery chatter
    );
  };

  const sockets: dgram.Socket[] = [];
  await Promise.all(
    interfaces.map(
      (iface) =>
        new Promise<void>((resolve) => {
          const sock = dgram.createSocket({ type: 'udp4' });
          const bindFailed = (e: Error) => {
            iface.error = e.message;
            sock.close();
            resolve();
          };
          sock.once('error', bindFailed);
          sock.bind(0, iface.address, () => {
            sock.off('error', bindFailed);
            try {
              sock.setMulticastInterface(iface.address);
              sock.setMulticastLoopback(true); // a device (or our test peer) on this very box
              sock.setMulticastTTL(1);
            } catch (e) {
              iface.error = (e as Error).message;
            }
            sock.on('message', onMessage(iface));
            sock.on('error', (e) => (iface.error = e.message));
            sockets.push(sock);
            resolve();
          });
        }),
    ),
  );
  if (sockets.length === 0)
    throw new DeviceError(
      'unreachable',
      'ws-discovery',
      `no interface to probe on (${interfaces.map((i) => `${i.name}: ${i.error}`).join(', ') || 'none'})`,
    );

  const started = Date.now();
  const send = (sock: dgram.Socket, iface: ProbedInterface | undefined, msg: Buffer) =>
    sock.send(msg, port, WSD_GROUP, (e) => {
      if (e && iface) iface.error = `send: ${e.message}`;
    });
  for (let round = 0; round < probes; round++) {
    if (round > 0) await new Promise((r) => setTimeout(r, intervalMs));
    for (const type of ['dn:NetworkVideoTransmitter', 'tds:Device'] as const) {
      const msg = probeMessage(`urn:uuid:${randomUUID()}`, type);
      for (const sock of sockets)
        send(
          sock,
          interfaces.find((i) => i.address === sock.address().address),
          msg,
        );
    }
  }
  await new Promise((r) => setTimeout(r, Math.max(0, timeoutMs - (Date.now() - started))));
  for (const sock of sockets) sock.close();
  await Promise.all(parsing);
  return { devices: [...found.values()], interfaces };
}
