/** Gateways as child processes (test/helpers/box.ts): started, driven over stdin, killed. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { ROOT } from '../../gateway/paths.ts';

export class Box {
  private out = '';
  private readonly waiters: { re: RegExp; ok: (m: RegExpExecArray) => void }[] = [];
  readonly id: string;
  readonly child: ChildProcess;

  private constructor(id: string, child: ChildProcess) {
    this.id = id;
    this.child = child;
    child.stdout!.on('data', (d) => {
      this.out += d;
      for (const w of [...this.waiters]) {
        const m = w.re.exec(this.out);
        if (m) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          this.out = this.out.slice(m.index + m[0].length);
          w.ok(m);
        }
      }
    });
  }

  static async start(id: string, dir: string, settings: string, env: NodeJS.ProcessEnv = {}): Promise<Box> {
    const file = join(dir, `${id}.yaml`);
    writeFileSync(file, settings);
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/box.ts'), file], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const box = new Box(id, child);
    await box.expect(/ready\n/, 60_000, 'start');
    return box;
  }

  expect(re: RegExp, ms: number, what: string): Promise<RegExpExecArray> {
    return new Promise((ok, fail) => {
      const t = setTimeout(() => fail(new Error(`box ${this.id}: no ${what} within ${ms} ms`)), ms);
      const exited = () => fail(new Error(`box ${this.id} exited (${this.child.exitCode}) waiting for ${what}`));
      this.child.once('exit', exited);
      const m = re.exec(this.out);
      const done = (r: RegExpExecArray) => {
        clearTimeout(t);
        this.child.off('exit', exited);
        ok(r);
      };
      if (m) {
        this.out = this.out.slice(m.index + m[0].length);
        return done(m);
      }
      this.waiters.push({ re, ok: done });
    });
  }

  /** Confirms an event on the camera; resolves with its id. */
  async inject(camera: string): Promise<string> {
    const got = this.expect(/event (\S+)\n/, 20_000, `event on ${camera}`);
    this.child.stdin!.write(`inject ${camera}\n`);
    return (await got)[1]!;
  }

  /** Keeps the box's event loop busy for `ms`; resolves when it is free again, with when it started and ended. */
  async block(ms: number): Promise<{ start: number; end: number }> {
    const started = this.expect(/blocking\n/, 20_000, 'blocking');
    this.child.stdin!.write(`block ${ms}\n`);
    await started;
    const start = Date.now();
    await this.expect(/unblocked\n/, ms + 20_000, 'unblocked');
    return { start, end: Date.now() };
  }

  kill9(): void {
    this.child.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin!.write('stop\n');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(t);
  }
}
