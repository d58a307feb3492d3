/**
 * The launcher's own process (forked by launcher.ts): it runs the short commands the
 * gateway asks for (a still, a clip, a transcode) and sends back what they wrote. It is
 * small, so forking a command from it is cheap, and a fork here never stalls the gateway.
 * Plain JavaScript: it starts in a few tens of milliseconds, without the TypeScript loader.
 */
import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';

process.on('message', (req) => {
  const { id, cmd, args, input, timeoutMs, nice } = req;
  const out = [];
  let err = '';
  let settled = false;
  const reply = (r) => {
    if (settled) return;
    settled = true;
    process.send?.({ id, ...r });
  };
  let p;
  try {
    p = spawn(cmd, args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return reply({ spawnError: e.message, errno: e.code ?? null });
  }
  // Lower priority (evidence work): best effort, as in launcher.ts.
  if (nice && p.pid)
    try {
      setPriority(p.pid, nice);
    } catch {}
  const timer = timeoutMs ? setTimeout(() => p.kill('SIGKILL'), timeoutMs) : null;
  p.stdout.on('data', (d) => out.push(d));
  p.stderr.setEncoding('utf8').on('data', (s) => {
    // The end of stderr says why; a runaway command must not fill this process.
    err = (err + s).slice(-16_384);
  });
  p.on('error', (e) => {
    if (timer) clearTimeout(timer);
    reply({ spawnError: e.message, errno: e.code ?? null });
  });
  p.on('close', (code, signal) => {
    if (timer) clearTimeout(timer);
    reply({ code, signal, stdout: Buffer.concat(out), stderr: err });
  });
  if (input) {
    p.stdin.on('error', () => undefined);
    p.stdin.end(Buffer.from(input));
  }
});
// The gateway is gone (stopped or killed): nothing is left to run for.
process.on('disconnect', () => process.exit(0));
