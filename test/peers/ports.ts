import { createServer } from 'node:net';

/** A TCP port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => ok(p));
    });
  });
}

/**
 * Resolves once some process has bound UDP `port` (read from /proc/net/udp): a receiver
 * started as a child process is listening only after its start-up, which takes long on a
 * loaded machine. A fixed sleep is either slow or flaky; this is neither.
 */
export async function udpBound(port: number, timeoutMs = 15_000): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
      let text = '';
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      if (text.split('\n').some((l) => l.trim().split(/\s+/)[1]?.endsWith(`:${hex}`))) return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing bound UDP port ${port} within ${timeoutMs} ms`);
}
