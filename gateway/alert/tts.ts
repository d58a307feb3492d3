/**
 * Speech engines. espeak-ng (`cmn`) is always there. sherpa-onnx (VITS models, much more
 * natural Mandarin) is optional: it needs the sherpa-onnx-node package and a model folder
 * the operator provides, and it runs in a child process because it carries its own ONNX
 * Runtime, which must not meet the detector's in one process. When either is missing, or
 * the child fails, espeak-ng speaks and the reason is logged.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

import { fileURLToPath } from 'node:url';
import { synthesise } from './audio.ts';
import { ROOT } from '../paths.ts';

export interface TtsEngine {
  /** Names the engine, voice and settings: part of the audio cache key. */
  readonly key: string;
  /** Resolves with a WAV file's bytes. */
  synthesise(text: string): Promise<Buffer>;
}

export class EspeakTts implements TtsEngine {
  readonly key: string;
  readonly #voice: string;
  readonly #speed: number;
  constructor(voice: string, speed: number) {
    [this.#voice, this.#speed] = [voice, speed];
    this.key = `espeak:${voice}:${speed}`;
  }
  synthesise(text: string): Promise<Buffer> {
    return synthesise(text, { voice: this.#voice, speed: this.#speed });
  }
}

const CHILD = fileURLToPath(new URL('./sherpa-child.ts', import.meta.url));

export interface SherpaOptions {
  modelDir: string;
  speakerId: number;
  speed: number;
  /** The package to import in the child; tests point it at one that does not exist. */
  module?: string;
  timeoutMs?: number;
}

/** Runs the sherpa child once: `check` only imports the package and loads the model. */
function runChild(o: SherpaOptions, text: string | null): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const args = [
      '--import',
      'tsx',
      CHILD,
      JSON.stringify({
        modelDir: o.modelDir,
        sid: o.speakerId,
        speed: o.speed,
        module: o.module ?? 'sherpa-onnx-node',
        check: text === null,
      }),
    ];
    const p = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    const t = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e) => (clearTimeout(t), fail(e)));
    p.on('close', (code, signal) => {
      clearTimeout(t);
      if (code === 0) return ok(Buffer.concat(out));
      fail(
        new Error(signal ? `sherpa-onnx child killed (${signal})` : err.trim().split('\n').at(-1) || `sherpa-onnx child exited ${code}`),
      );
    });
    p.stdin.on('error', () => undefined);
    p.stdin.end(text ?? '');
  });
}

export class SherpaTts implements TtsEngine {
  readonly key: string;
  readonly #o: SherpaOptions;
  constructor(o: SherpaOptions) {
    this.#o = o;
    this.key = `sherpa:${o.modelDir}:${o.speakerId}:${o.speed}`;
  }
  check(): Promise<void> {
    return runChild(this.#o, null).then(() => undefined);
  }
  synthesise(text: string): Promise<Buffer> {
    return runChild(this.#o, text);
  }
}

/** Why a sherpa model folder cannot be used, or null when it looks complete. */
export function modelProblem(dir: string | undefined): string | null {
  if (!dir) return 'warnings.sherpa.model_dir is not set';
  if (!existsSync(dir)) return `model folder ${dir} does not exist`;
  const files = readdirSync(dir);
  if (!files.some((f) => f.endsWith('.onnx'))) return `model folder ${dir} has no .onnx model`;
  if (!files.includes('tokens.txt')) return `model folder ${dir} has no tokens.txt`;
  return null;
}

/** espeak-ng that steps in for a failing engine, per message, and says why once. */
export class FallbackTts implements TtsEngine {
  readonly key: string;
  readonly #primary: TtsEngine;
  readonly #fallback: TtsEngine;
  readonly #onFallback: (reason: string) => void;
  constructor(primary: TtsEngine, fallback: TtsEngine, onFallback: (reason: string) => void) {
    [this.#primary, this.#fallback, this.#onFallback] = [primary, fallback, onFallback];
    this.key = primary.key;
  }
  async synthesise(text: string): Promise<Buffer> {
    try {
      return await this.#primary.synthesise(text);
    } catch (e) {
      this.#onFallback(`sherpa-onnx failed for this message (${(e as Error).message}); espeak-ng speaks it`);
      return this.#fallback.synthesise(text);
    }
  }
}

export interface TtsChoice {
  engine: TtsEngine;
  /** Set when sherpa was asked for but espeak-ng speaks instead. */
  fallback?: string;
}

/** The configured engine, checked once; espeak-ng when sherpa cannot run here. */
export async function chooseTts(
  w: { tts: 'espeak' | 'sherpa'; voice: string; speed: number; sherpa: { model_dir?: string; speaker_id: number; speed: number } },
  resolvePath: (p: string) => string,
  log: (reason: string) => void = () => undefined,
  module?: string,
): Promise<TtsChoice> {
  const espeak = new EspeakTts(w.voice, w.speed);
  if (w.tts !== 'sherpa') return { engine: espeak };
  const dir = w.sherpa.model_dir ? resolvePath(w.sherpa.model_dir) : undefined;
  const problem = modelProblem(dir);
  if (problem) return { engine: espeak, fallback: `sherpa-onnx not used: ${problem}; espeak-ng speaks instead` };
  const sherpa = new SherpaTts({ modelDir: dir!, speakerId: w.sherpa.speaker_id, speed: w.sherpa.speed, module });
  try {
    await sherpa.check();
  } catch (e) {
    return { engine: espeak, fallback: `sherpa-onnx not used: ${(e as Error).message}; espeak-ng speaks instead` };
  }
  // The cache key stays sherpa's: a message espeak spoke for a failed child is not cached under it.
  return { engine: new FallbackTts(sherpa, espeak, log) };
}
