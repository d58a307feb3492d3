/**
 * CPU and memory of a process tree, read from /proc: a gateway and every ffmpeg it runs,
 * or a fleet of bare ffmpegs. CPU counts each live process's own time plus the time of
 * its children that already exited (cutime/cstime), so a short-lived child (espeak-ng, an
 * ffmpeg that restarted) is neither lost nor counted twice. Memory is PSS, not RSS: the
 * shared libraries of 134 ffmpegs are one copy, not 134.
 */
import { readFileSync, readdirSync } from 'node:fs';

const TICK = 100; // clock ticks per second on Linux (USER_HZ)

interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, in ticks. */
  ticks: number;
}

function readStat(pid: number): Stat | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]) };
  } catch {
    return null;
  }
}

function allStats(): Stat[] {
  const out: Stat[] = [];
  for (const d of readdirSync('/proc')) {
    if (d.charCodeAt(0) < 48 || d.charCodeAt(0) > 57) continue;
    const s = readStat(Number(d));
    if (s) out.push(s);
  }
  return out;
}

/** The roots and all their descendants that are alive now. */
export function processTree(roots: number[]): Stat[] {
  const stats = allStats();
  const children = new Map<number, Stat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  const out: Stat[] = [];
  const todo = roots.map((r) => byPid.get(r)).filter((s): s is Stat => !!s);
  const seen = new Set<number>();
  while (todo.length) {
    const s = todo.pop()!;
    if (seen.has(s.pid)) continue;
    seen.add(s.pid);
    out.push(s);
    todo.push(...(children.get(s.pid) ?? []));
  }
  return out;
}

/** What a process is, from its command line: node, an ffmpeg reading frames, a clip ring, or other. */
function kindOf(pid: number): string {
  let cmd = '';
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return 'other';
  }
  const argv = cmd.split('\0');
  const exe = argv[0].split('/').pop() ?? '';
  if (exe === 'node' || exe.startsWith('node')) return 'node';
  if (exe === 'ffmpeg') return argv.includes('segment') ? 'ring' : 'frames';
  return exe || 'other';
}

/** Proportional set size of one process in KiB (0 when it is gone or unreadable). */
export function pssKiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU (cores) over a window and peak PSS of a process tree, sampled while it runs. */
export class TreeMeter {
  private t0 = 0;
  private ticks0 = 0;
  private peakPss = 0;
  private readonly roots: () => number[];

  constructor(roots: () => number[]) {
    this.roots = roots;
  }

  /** Ticks per kind of process at start, so the split can be read at the end. */
  private kinds0 = new Map<string, number>();

  private ticks(): number {
    return processTree(this.roots()).reduce((a, s) => a + s.ticks, 0);
  }

  private byKind(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of processTree(this.roots())) out.set(kindOf(s.pid), (out.get(kindOf(s.pid)) ?? 0) + s.ticks);
    return out;
  }

  start(): void {
    this.t0 = performance.now();
    this.ticks0 = this.ticks();
    this.kinds0 = this.byKind();
  }

  /**
   * Cores per kind of process since start() (node, ffmpeg frames, ffmpeg clip ring, other):
   * where the CPU goes. A process that started after start() counts whole.
   */
  split(): Record<string, number> {
    const wall = (performance.now() - this.t0) / 1000;
    const out: Record<string, number> = {};
    for (const [k, t] of this.byKind()) out[k] = (t - (this.kinds0.get(k) ?? 0)) / TICK / wall;
    return out;
  }

  /** Reads PSS over the tree now; the peak is kept. */
  samplePss(): number {
    const kib = processTree(this.roots()).reduce((a, s) => a + pssKiB(s.pid), 0);
    this.peakPss = Math.max(this.peakPss, kib);
    return kib;
  }

  /** Cores used since start() (CPU seconds per wall second). */
  cores(): number {
    const wall = (performance.now() - this.t0) / 1000;
    return (this.ticks() - this.ticks0) / TICK / wall;
  }

  peakPssMiB(): number {
    return this.peakPss / 1024;
  }
}
