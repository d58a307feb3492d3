/**
 * The sherpa-onnx speech child: imports the package here, never in the gateway process,
 * loads a VITS model folder, speaks the text from stdin and writes a 16-bit WAV to stdout.
 * Exit 3: the package is not installed; 4: the model does not load; 1: anything else.
 *
 *   node --import tsx gateway/alert/sherpa-child.ts '{"modelDir":"...","sid":0,"speed":1}' < text
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface Job {
  modelDir: string;
  sid: number;
  speed: number;
  module: string;
  check?: boolean;
}

function wav(samples: Float32Array, rate: number): Buffer {
  const b = Buffer.alloc(44 + samples.length * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + samples.length * 2, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(samples.length * 2, 40);
  for (let i = 0; i < samples.length; i++) b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767))), 44 + i * 2);
  return b;
}

async function main(): Promise<number> {
  const job = JSON.parse(process.argv[2] ?? '{}') as Job;
  let sherpa: any;
  try {
    sherpa = await import(job.module);
  } catch (e) {
    process.stderr.write(`package ${job.module} is not installed (${(e as Error).message.split('\n')[0]})\n`);
    return 3;
  }
  const files = readdirSync(job.modelDir);
  const at = (name: string) => (existsSync(join(job.modelDir, name)) ? join(job.modelDir, name) : '');
  let tts: any;
  try {
    const OfflineTts = sherpa.OfflineTts ?? sherpa.default?.OfflineTts;
    tts = new OfflineTts({
      model: {
        vits: {
          model: join(job.modelDir, files.find((f) => f.endsWith('.onnx'))!),
          tokens: at('tokens.txt'),
          lexicon: at('lexicon.txt'),
          dataDir: at('espeak-ng-data'),
          dictDir: at('dict'),
        },
        numThreads: 1,
        provider: 'cpu',
      },
      ruleFsts: ['phone.fst', 'date.fst', 'number.fst'].map(at).filter(Boolean).join(','),
      maxNumSentences: 2,
    });
  } catch (e) {
    process.stderr.write(`model in ${job.modelDir} does not load: ${(e as Error).message}\n`);
    return 4;
  }
  if (job.check) return 0;
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const audio = tts.generate({ text: Buffer.concat(chunks).toString('utf8'), sid: job.sid, speed: job.speed });
  process.stdout.write(wav(audio.samples, audio.sampleRate));
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: Error) => (process.stderr.write(`${e.message}\n`), (process.exitCode = 1)),
);
