/**
 * Cross-checks our ONVIF client against Debian's onvif-util (libonvif 1.4.x), an
 * independent implementation, on the same fake camera.
 *
 * onvif-util cannot be pointed at a URL: it multicasts a WS-Discovery Probe and logs in
 * to the device whose XAddr host equals its argument. It sends that Probe with
 * IP_MULTICAST_LOOP off and without choosing an interface, so on a normal host the Probe
 * leaves by the default route and never reaches a responder on this machine. Rather
 * than change the host's routes, we run the fake, onvif-util and our client inside a
 * throwaway user+network namespace (`unshare -rn`) whose only interface is lo and whose
 * multicast route points at it.
 *
 * Run directly (inside the namespace) it prints one JSON line; import runCrossCheck()
 * from a test to do the whole thing from outside.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { probe, type OnvifDevice } from '../../../devices/onvif/client.ts';
import { FakeOnvifDevice, type FakeOnvifOptions } from './device.ts';

export interface UtilReport {
  /** Everything onvif-util printed. */
  raw: string;
  name?: string;
  serial?: string;
  /** From `get profiles`, in the device's order. */
  tokens: string[];
  /** By profile token, from `get profile n` and `get rtsp n`. */
  profiles: Record<string, { width?: number; height?: number; fps?: number; rtsp?: string }>;
  timeOffsetSec?: number;
}

export interface CrossCheck {
  util: UtilReport;
  ours: OnvifDevice;
}

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs a command with `input` on its stdin; resolves with everything it printed. */
export function run(cmd: string, args: string[], input: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: ROOT });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    // A child that exits before reading its input (unshare refused, onvif-util crashed)
    // makes the write fail with EPIPE: what it printed says why, so that is the answer.
    p.stdin.on('error', () => {});
    p.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    p.stdin.end(input);
  });
}

export function parseUtil(raw: string): UtilReport {
  const r: UtilReport = { raw, tokens: [], profiles: {} };
  r.name = /^\s*name:\s*(.*)$/m.exec(raw)?.[1]?.trim();
  r.serial = /^\s*serial:\s*(.*)$/m.exec(raw)?.[1]?.trim();
  for (const m of raw.matchAll(/^\s*Token (\d+): (\S+)/gm)) r.tokens[Number(m[1])] = m[2]!;
  // Every per-profile command first prints "Profile set to <token>", then its answer.
  for (const block of raw.split(/^\s*Profile set to /m).slice(1)) {
    const token = block.split(/\s/)[0]!;
    const p = (r.profiles[token] ??= {});
    const num = (label: string) => {
      const m = new RegExp(`^\\s*${label}:\\s*(\\d+)`, 'm').exec(block);
      return m ? Number(m[1]) : undefined;
    };
    p.width ??= num('Width');
    p.height ??= num('Height');
    p.fps ??= num('Frame Rate');
    p.rtsp ??= /^\s*(rtsp:\/\/\S+)/m.exec(block)?.[1];
  }
  const off = /Time Offset:\s*(-?\d+)/.exec(raw);
  if (off) r.timeOffsetSec = Number(off[1]);
  return r;
}

/** Inside the namespace: fake camera, onvif-util, our client; prints JSON. */
async function inside(opts: FakeOnvifOptions): Promise<void> {
  const fake = await new FakeOnvifDevice({ ...opts, host: '127.0.0.1', discovery: { interfaces: ['127.0.0.1'] } }).start();
  try {
    const n = fake.o.profiles.length;
    const cmds = [
      'get profiles',
      ...Array.from({ length: n }, (_v, i) => [`get profile ${i}`, `get rtsp ${i}`]).flat(),
      'get time',
      'quit',
    ];
    const raw = await run('onvif-util', ['-u', fake.o.user, '-p', fake.o.password, '127.0.0.1'], `${cmds.join('\n')}\n`, 30_000);
    const ours = await probe(fake.url, { user: fake.o.user, password: fake.o.password, timeoutMs: 5000 });
    process.stdout.write(`${JSON.stringify({ util: parseUtil(raw), ours } satisfies CrossCheck)}\n`);
  } finally {
    await fake.stop();
  }
}

/**
 * Why the namespace gave no answer, in words. Where `unshare -rn` is refused outright (a
 * chroot, a container without user namespaces) that is the cause; AppArmor is named only
 * where its switch exists and is on.
 */
export function explainFailure(out: string, apparmorSwitch = '/proc/sys/kernel/apparmor_restrict_unprivileged_userns'): string {
  const head = 'cross-check in a private network namespace failed';
  if (/unshare failed|uid_map|setgroups|cannot open \/proc|Operation not permitted|Permission denied/.test(out) && /unshare/.test(out)) {
    const apparmor = existsSync(apparmorSwitch) && readFileSync(apparmorSwitch, 'utf8').trim() === '1';
    const why = apparmor
      ? 'AppArmor restricts unprivileged user namespaces here (sysctl kernel.apparmor_restrict_unprivileged_userns=0 lifts it)'
      : 'this system does not allow unprivileged user namespaces here (inside a chroot, or a container without them); run it on the host or in a VM';
    return `${head}: \`unshare -rn\` was refused: ${why}. Output:\n${out}`;
  }
  if (/ip: not found|ip: command not found|RTNETLINK/.test(out))
    return `${head}: could not set up lo in the namespace (\`ip\` from iproute2 missing or refused). Output:\n${out}`;
  return `${head}. Output:\n${out}`;
}

/** From a test: runs the whole cross-check in a private namespace. Throws with the reason. */
export async function runCrossCheck(opts: FakeOnvifOptions = {}): Promise<CrossCheck> {
  // Inside the namespace we are root over nothing but lo: bring it up and send all
  // multicast out of it (src 127.0.0.1, or replies would go to 0.0.0.0).
  const script =
    'PATH="$PATH:/usr/sbin:/sbin"; ip link set lo up && ip route add 239.0.0.0/8 dev lo src 127.0.0.1 && exec "$0" --import tsx "$1" "$2"';
  const out = await run('unshare', ['-rn', 'sh', '-c', script, process.execPath, SELF, JSON.stringify(opts)], '', 60_000);
  const line = out.split('\n').find((l) => l.startsWith('{"util"'));
  if (!line) throw new Error(explainFailure(out));
  return JSON.parse(line) as CrossCheck;
}

if (process.argv[1] === SELF) {
  inside(JSON.parse(process.argv[2] ?? '{}') as FakeOnvifOptions).catch((e) => {
    process.stderr.write(`cross-check failed: ${(e as Error).stack}\n`);
    process.exit(1);
  });
}
