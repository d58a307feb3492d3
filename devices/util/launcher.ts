/**
 * Runs short commands (a still, a clip, a transcode) from a small helper process instead
 * of from the gateway's own. Starting a program forks the process that starts it, and the
 * fork blocks that process's event loop for as long as copying its memory map takes: tens
 * of milliseconds for a gateway of a few hundred MiB, far more on a busy box. An event's
 * evidence starts several commands at the moment its warning should start; forked from
 * the gateway they held up every camera's frames. The helper (launcher-child.mjs) is a
 * bare Node process that forks cheaply, and whatever it waits for, the gateway does not.
 *
 * If the helper cannot be started, or dies, a command is run the old way (from this
 * process) rather than not at all; the next command tries the helper again.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RunOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: Buffer;
  /** Killed (SIGKILL) after this long. */
  timeoutMs?: number;
  /**
   * Runs at this niceness (1-19: lower priority). Evidence work gives way to the cameras'
   * analysis when the box is full: a still can wait a second, a dwell's verdict cannot.
   */
  nice?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  /** Its last 16 KiB. */
  stderr: string;
}

interface Reply {
  id: number;
  code?: number | null;
  signal?: NodeJS.Signals | null;
  stdout?: Uint8Array;
  stderr?: string;
  spawnError?: string;
  errno?: string | null;
}

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'launcher-child.mjs');
let child: ChildProcess | null = null;
let nextId = 1;
const pending = new Map<number, { ok: (r: RunResult) => void; fail: (e: Error) => void; cmd: string }>();

/** A spawn error as spawn itself gives it: callers tell a missing program by its code (ENOENT). */
function spawnError(cmd: string, message: string, errno: string | null | undefined): Error {
  const e = new Error(message.includes(cmd) ? message : `spawn ${cmd}: ${message}`) as NodeJS.ErrnoException;
  if (errno) e.code = errno;
  return e;
}

function helper(): ChildProcess | null {
  if (child && child.exitCode === null && child.connected) return child;
  if (process.env.GW_LAUNCHER === 'inline') return null;
  try {
    // No loader, no flags: the helper is plain JavaScript and starts in tens of ms.
    const c = fork(SCRIPT, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    c.on('message', (r: Reply) => settle(r));
    c.once('exit', (code, signal) => {
      if (child === c) child = null;
      for (const [id, p] of pending) {
        pending.delete(id);
        p.fail(new Error(`the command launcher exited (${code ?? signal}) while ${p.cmd} ran`));
      }
    });
    c.on('error', () => undefined);
    child = c;
    idle(c);
    return c;
  } catch {
    return null;
  }
}

function settle(r: Reply): void {
  const p = pending.get(r.id);
  if (!p) return;
  pending.delete(r.id);
  if (child && !pending.size) idle(child);
  if (r.spawnError !== undefined) return p.fail(spawnError(p.cmd, r.spawnError, r.errno));
  const out = r.stdout ?? new Uint8Array(0);
  p.ok({
    code: r.code ?? null,
    signal: r.signal ?? null,
    stdout: Buffer.from(out.buffer, out.byteOffset, out.byteLength),
    stderr: r.stderr ?? '',
  });
}

/** Nothing under way: the helper must not keep the gateway alive. */
function idle(c: ChildProcess): void {
  c.unref();
  (c.channel as { unref?: () => void } | undefined)?.unref?.();
}

function busy(c: ChildProcess): void {
  c.ref();
  (c.channel as { ref?: () => void } | undefined)?.ref?.();
}

/** Runs a command to its end; rejects only when it cannot be started (the code then says why: ENOENT). */
export function runCommand(cmd: string, args: readonly string[], o: RunOptions = {}): Promise<RunResult> {
  const c = helper();
  if (!c) return runHere(cmd, args, o);
  return new Promise((ok, fail) => {
    const id = nextId++;
    pending.set(id, { ok, fail, cmd });
    busy(c);
    c.send({ id, cmd, args, input: o.input, timeoutMs: o.timeoutMs ?? 0, nice: o.nice ?? 0 }, (err) => {
      if (!err || !pending.has(id)) return;
      pending.delete(id);
      // The helper went away between the check and the send: run it here.
      runHere(cmd, args, o).then(ok, fail);
    });
  });
}

/** Starts the helper ahead of the first command (at gateway start, not at the first event). */
export function warmLauncher(): void {
  helper();
}

/** Stops the helper (orderly shutdown; it also exits by itself when the gateway is gone). */
export function stopLauncher(): void {
  child?.disconnect();
  child = null;
}

function runHere(cmd: string, args: readonly string[], o: RunOptions): Promise<RunResult> {
  return new Promise((ok, fail) => {
    const p = spawn(cmd, args, { stdio: [o.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    lowerPriority(p.pid, o.nice);
    const out: Buffer[] = [];
    let err = '';
    const timer = o.timeoutMs ? setTimeout(() => p.kill('SIGKILL'), o.timeoutMs) : null;
    p.stdout!.on('data', (d: Buffer) => out.push(d));
    p.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-16_384)));
    p.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      fail(spawnError(cmd, e.message, e.code));
    });
    p.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      ok({ code, signal, stdout: Buffer.concat(out), stderr: err });
    });
    if (o.input) {
      p.stdin!.on('error', () => undefined);
      p.stdin!.end(o.input);
    }
  });
}

/** Best effort: a command that already ended, or a box that refuses, runs as it is. */
function lowerPriority(pid: number | undefined, nice: number | undefined): void {
  if (!pid || !nice) return;
  try {
    setPriority(pid, nice);
  } catch {}
}
