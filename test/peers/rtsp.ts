/**
 * Launches the GStreamer RTSP peer (rtsp_server.py) for tests. The server picks its own
 * free port on first start (--port 0, reported in its READY line, so no race with other
 * test files), and restart() reuses that port so a client sees the same camera come back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The Debian python has `gi`; a pyenv/venv python3 on PATH usually does not. */
export const RTSP_PYTHON = '/usr/bin/python3';
/** Pass to havePeers() before starting a server and probing it. */
export const RTSP_PEERS = [RTSP_PYTHON, 'ffmpeg', 'ffprobe'];
const SCRIPT = fileURLToPath(new URL('./rtsp_server.py', import.meta.url));

export interface RtspServerOptions {
  /** Mount path ('/cam1' or 'cam1') to media file. Mounts of one file share one stream. */
  mounts: Record<string, string>;
  user?: string;
  password?: string;
  /** Which challenges the server sends; default both (ffmpeg then answers Digest). */
  auth?: 'basic' | 'digest' | 'both';
  transport?: 'tcp' | 'udp' | 'both';
  /**
   * Mounts of one file share one stream, so they send identical frames with key frames in
   * lockstep. phases: K plays each file K times, offset in time, dealing mounts round-robin.
   */
  phases?: number;
  /** 0 or absent: a free port. */
  port?: number;
  host?: string;
  readyTimeoutMs?: number;
}

export interface Creds {
  user: string;
  password: string;
}

export interface RtspServer {
  port: number;
  host: string;
  /** creds: true = the server's own, an object = those (e.g. wrong ones), absent = none. */
  url(mount: string, creds?: Creds | true): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL, to simulate a crash. Does not wait. */
  kill(): void;
  /** Start again on the same port (stops the old process first if it is still alive). */
  restart(): Promise<void>;
  /** Last few KB of the server's stderr. */
  stderr(): string;
  /** Current process id, e.g. to read its CPU time from /proc. */
  pid(): number | undefined;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

export async function startRtspServer(opts: RtspServerOptions): Promise<RtspServer> {
  const host = opts.host ?? '127.0.0.1';
  const args = (port: number): string[] => {
    const a = [SCRIPT, '--port', `${port}`, '--address', host, '--transport', opts.transport ?? 'both', '--phases', `${opts.phases ?? 1}`];
    for (const [mount, file] of Object.entries(opts.mounts)) a.push('--mount', `${norm(mount)}=${file}`);
    if (opts.user !== undefined) a.push('--user', opts.user, '--password', opts.password ?? '', '--auth', opts.auth ?? 'both');
    return a;
  };
  if (!exitHookInstalled) {
    // Backstop for a test that forgets stop(); the server also dies with its parent (PDEATHSIG).
    process.on('exit', () => live.forEach((p) => p.kill('SIGKILL')));
    exitHookInstalled = true;
  }

  let proc: ChildProcess;
  let errTail = '';
  const launch = async (port: number): Promise<number> => {
    errTail = '';
    const p = spawn(RTSP_PYTHON, args(port), { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    live.add(p);
    p.once('exit', () => live.delete(p));
    p.stderr!.setEncoding('utf8').on('data', (d: string) => {
      errTail = (errTail + d).slice(-4096);
    });
    return new Promise<number>((resolve, reject) => {
      let out = '';
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        p.kill('SIGKILL');
        // Give stderr a moment to drain so the error says why.
        setTimeout(() => reject(new Error(`rtsp_server ${why}\n--- stderr ---\n${errTail.trim()}`)), 50);
      };
      const timer = setTimeout(() => fail('not READY in time'), opts.readyTimeoutMs ?? 20_000);
      p.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /^READY (\d+)$/m.exec(out);
        if (m && !settled) {
          settled = true;
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      p.once('error', (e) => fail(`failed to spawn: ${e.message}`));
      p.once('exit', (code, sig) => fail(`exited before READY (code ${code}, signal ${sig})`));
    });
  };

  const port = await launch(opts.port ?? 0);
  const exited = (p: ChildProcess) =>
    p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.once('exit', () => r()));

  const server: RtspServer = {
    port,
    host,
    url(mount, creds) {
      const c = creds === true ? { user: opts.user ?? '', password: opts.password ?? '' } : creds;
      const auth = c ? `${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@` : '';
      return `rtsp://${auth}${host}:${port}${norm(mount)}`;
    },
    async stop() {
      const p = proc;
      if (p.exitCode !== null || p.signalCode !== null) return;
      const killer = setTimeout(() => p.kill('SIGKILL'), 5_000);
      p.kill('SIGTERM');
      await exited(p);
      clearTimeout(killer);
    },
    kill() {
      proc.kill('SIGKILL');
    },
    async restart() {
      await server.stop();
      // The port can take a moment to be free after a crash; retry briefly.
      for (let attempt = 0; ; attempt++) {
        try {
          await launch(port);
          return;
        } catch (e) {
          if (attempt >= 10 || !/cannot listen/.test(String(e))) throw e;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    },
    stderr: () => errTail,
    pid: () => proc.pid,
  };
  return server;
}

function norm(mount: string): string {
  return mount.startsWith('/') ? mount : `/${mount}`;
}
