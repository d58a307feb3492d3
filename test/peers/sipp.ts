/**
 * SIPp (Debian sip-tester) as a scripted SIP speaker: the scenarios in test/peers/sipp/
 * challenge with Digest, refuse with a chosen status, or ring for ever. It answers one
 * call and exits; its exit code says whether the call went as the scenario expects.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';

const SCENARIOS = join(dirname(fileURLToPath(import.meta.url)), 'sipp');

export interface Sipp {
  port: number;
  url: string;
  /** Resolves with SIPp's exit code (0: every call went as scripted) and its output. */
  done: Promise<{ code: number | null; output: string }>;
  stop(): void;
}

/** `keys` become SIPp -key values ([name] in the scenario); `fill` replaces {{name}} before SIPp reads the file. */
export async function startSipp(
  scenario: 'uas-auth' | 'uas-status' | 'uas-ring',
  keys: Record<string, string> = {},
  fill: Record<string, string> = {},
): Promise<Sipp> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
  const file = join(dir, `${scenario}.xml`);
  writeFileSync(
    file,
    readFileSync(join(SCENARIOS, `${scenario}.xml`), 'utf8').replace(/\{\{(\w+)\}\}/g, (_m, k: string) => fill[k] ?? ''),
  );
  const args = [
    '-sf',
    file,
    '-i',
    '127.0.0.1',
    '-p',
    String(port),
    '-m',
    '1',
    '-nostdin',
    '-timeout',
    '40s',
    '-trace_err',
    '-error_file',
    join(dir, 'err.log'),
  ];
  for (const [k, v] of Object.entries(keys)) args.push('-key', k, v);
  const p = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let output = '';
  p.stdout.on('data', (d) => (output += d));
  p.stderr.on('data', (d) => (output += d));
  const done = new Promise<{ code: number | null; output: string }>((ok) =>
    p.once('exit', (code) => (rmSync(dir, { recursive: true, force: true }), ok({ code, output }))),
  );
  // SIPp prints nothing useful before it listens; give it a moment to bind.
  await new Promise((r) => setTimeout(r, 400));
  return { port, url: `sip:speaker@127.0.0.1:${port}`, done, stop: () => void (p.exitCode === null && p.kill('SIGKILL')) };
}
