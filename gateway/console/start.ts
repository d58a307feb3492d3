/** Sets the console up on the gateway's HTTP server: users, sessions, the routes. */
import { join } from 'node:path';
import type { HttpApi } from '../http/server.ts';
import { Console, type ConsoleDeps } from './server.ts';
import { Sessions } from './sessions.ts';
import { loadUsers } from './users.ts';

export function startConsole(http: HttpApi | null, d: ConsoleDeps): Console | null {
  const { ctx } = d;
  const c = ctx.config.settings.console;
  if (!http || !c.enabled) return null;
  const file = c.users_file ? ctx.config.resolvePath(c.users_file) : join(ctx.dataDir, 'console-users.json');
  let loaded: ReturnType<typeof loadUsers>;
  try {
    loaded = loadUsers(file);
  } catch (e) {
    ctx.log.error({ err: e }, 'console not started: fix the users file');
    return null;
  }
  const sessions = new Sessions(loaded.users, {
    maxFailures: c.max_failures,
    lockoutMs: c.lockout_s * 1000,
    ttlMs: c.session_h * 3600_000,
    now: () => Date.now(),
  });
  const con = new Console(d, sessions);
  http.mount(con.handle);
  const url = `${http.base}/console/`;
  if (loaded.firstPassword)
    ctx.log.warn(
      { url, file },
      `console: first login as "admin" with password ${loaded.firstPassword} (shown once; only its hash is kept; delete the users file for a new one)`,
    );
  else ctx.log.info({ url, users: loaded.users.length }, 'console ready');
  return con;
}
