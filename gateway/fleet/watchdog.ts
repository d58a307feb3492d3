/**
 * The systemd watchdog (deploy/gateway.service: Type=notify, WatchdogSec=). systemd sets
 * NOTIFY_SOCKET and WATCHDOG_USEC; we send READY=1 once started, then WATCHDOG=1 every
 * half period, but only while the box is really working: the event loop answers in time,
 * the database answers, and no camera that says it is online has gone without analysed
 * frames. When a check fails we say why (STATUS=) and stop pinging: systemd kills and
 * restarts the gateway after WatchdogSec. A blocked event loop cannot ping at all.
 *
 * Node cannot send unix datagrams, so each message goes through `systemd-notify` (Debian
 * package systemd), a child in our cgroup: the unit says NotifyAccess=all. systemd-notify
 * waits for the manager to confirm (BARRIER=1), so it does not exit before systemd has
 * read the message and the message is never lost to the exit race.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../log.ts';
import type { CameraHealth } from '../capture/health.ts';

export interface WatchdogDeps {
  log: Logger;
  /** The cameras' health now. */
  cameras: () => CameraHealth[];
  /** Throws when the database cannot answer. */
  probeDb: () => void;
  env?: NodeJS.ProcessEnv;
  /** Sends one notification (tests may listen on a socket of their own via NOTIFY_SOCKET). */
  notify?: (lines: string[]) => Promise<void>;
}

/** A camera online this long with no analysed frame in the last minute counts as stalled. */
export const STALL_MS = 120_000;

/** Why the pipeline is not alive, or null. */
export function pipelineProblem(cams: readonly CameraHealth[], now: number, loopLagMs: number, periodMs: number): string | null {
  if (loopLagMs > periodMs / 2) return `event loop ${Math.round(loopLagMs)} ms late`;
  const stuck = cams.filter((c) => c.state === 'online' && c.framesPerMinute === 0 && now - c.since > STALL_MS);
  if (stuck.length) return `no frames analysed for a minute from online camera(s) ${stuck.map((c) => c.camera).join(', ')}`;
  return null;
}

/** The watchdog period systemd asks for, or null when not run under a watchdog. */
export function watchdogPeriodMs(env: NodeJS.ProcessEnv): number | null {
  if (!env.NOTIFY_SOCKET || !env.WATCHDOG_USEC) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return null;
  const us = Number(env.WATCHDOG_USEC);
  return Number.isFinite(us) && us > 0 ? us / 1000 : null;
}

export function systemdNotify(env: NodeJS.ProcessEnv): (lines: string[]) => Promise<void> {
  return (lines) =>
    new Promise((ok, fail) =>
      execFile('systemd-notify', lines, { env, timeout: 10_000 }, (err, _out, stderr) =>
        err ? fail(new Error(`systemd-notify ${lines.join(' ')}: ${stderr.trim() || err.message}`)) : ok(),
      ),
    );
}

export class Watchdog {
  private readonly d: WatchdogDeps;
  private timer: NodeJS.Timeout | null = null;
  private failing: string | null = null;
  private warnedNotify = false;

  constructor(d: WatchdogDeps) {
    this.d = d;
  }

  /** Says READY=1 (when NOTIFY_SOCKET is set) and starts pinging (when WATCHDOG_USEC is set). */
  start(): void {
    const env = this.d.env ?? process.env;
    if (!env.NOTIFY_SOCKET) return;
    const notify = this.d.notify ?? systemdNotify(env);
    const send = (lines: string[]) =>
      notify(lines).catch((err) => {
        if (this.warnedNotify) return;
        this.warnedNotify = true;
        this.d.log.error({ err }, 'cannot notify systemd (is the systemd package installed?)');
      });
    void send(['READY=1', 'STATUS=running']);
    const period = watchdogPeriodMs(env);
    if (period === null) return;
    const every = period / 2;
    let expected = Date.now() + every;
    this.timer = setInterval(() => {
      const now = Date.now();
      const lag = now - expected;
      expected = now + every;
      let problem: string | null;
      try {
        this.d.probeDb();
        problem = pipelineProblem(this.d.cameras(), now, lag, period);
      } catch (err) {
        problem = `database does not answer: ${(err as Error).message}`;
      }
      if (problem !== this.failing) {
        if (problem) this.d.log.error({ problem }, 'pipeline not alive: the systemd watchdog will restart the gateway');
        else if (this.failing) this.d.log.info('pipeline alive again');
        this.failing = problem;
      }
      void send(problem ? [`STATUS=not alive: ${problem}`] : ['WATCHDOG=1', 'STATUS=running']);
    }, every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** The watchdog over a started gateway: its cameras' health and its database. */
export function watchGateway(
  gw: { cameraHealth(): CameraHealth[]; ctx: { db: { prepare(sql: string): { get(): unknown } } } },
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Watchdog {
  const dog = new Watchdog({ log, env, cameras: () => gw.cameraHealth(), probeDb: () => gw.ctx.db.prepare('SELECT 1').get() });
  dog.start();
  return dog;
}
