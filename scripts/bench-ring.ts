/**
 * Cost of the clip ring per camera, in figures (not a test): N copies of a 1920x1080,
 * 25 fps, 2 s-GOP, 4 Mbit/s H.264 main stream served by the GStreamer RTSP server, each
 * recorded by the gateway's ring ffmpeg (`-c copy` into 2 s MPEG-TS segments, wrapping).
 * CPU is read from /proc for the ring processes; disk is what the ring writes and holds.
 *
 *   node --import tsx scripts/bench-ring.ts [--n 1,8,16] [--seconds 15]
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startRtspServer } from '../test/peers/rtsp.ts';
import { makeClip } from '../test/peers/media.ts';
import { ClipRing } from '../gateway/evidence/ring.ts';
import { silentLogger } from '../gateway/log.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '1,8,16' }, seconds: { type: 'string', default: '15' } } });
const SECONDS = Number(values.seconds);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuTicks(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return 0;
  }
}

function held(dir: string): number {
  try {
    return readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
  } catch {
    return 0;
  }
}

const clip = await makeClip({ codec: 'h264', width: 1920, height: 1080, fps: 25, gopSeconds: 2, seconds: 20, kbps: 4000 });
const base = join(tmpdir(), 'gw-bench-ring');
const rows: string[] = [];
for (const n of values.n!.split(',').map(Number)) {
  const mounts = Object.fromEntries(Array.from({ length: n }, (_, i) => [`/cam${i + 1}`, clip]));
  const server = await startRtspServer({ mounts, phases: Math.min(8, n), transport: 'tcp' });
  rmSync(base, { recursive: true, force: true });
  const rings = Array.from(
    { length: n },
    (_, i) =>
      new ClipRing({
        camera: `c${i}`,
        url: server.url(`/cam${i + 1}`),
        transport: 'tcp',
        dir: join(base, `c${i}`),
        segmentS: 2,
        keepS: 60,
        log: silentLogger(),
      }),
  );
  rings.forEach((r) => r.start());
  await sleep(5000);
  const pids = rings.map((r) => r.pid!).filter(Boolean);
  const t0 = Date.now();
  const c0 = pids.map(cpuTicks);
  const segs0 = rings.reduce((s, r) => s + r.segments().length, 0);
  await sleep(SECONDS * 1000);
  const wall = (Date.now() - t0) / 1000;
  const cpu = pids.reduce((s, p, i) => s + cpuTicks(p) - c0[i], 0) / 100;
  const segs = rings.reduce((s, r) => s + r.segments().length, 0) - segs0;
  const bytes = rings.reduce((s, _, i) => s + held(join(base, `c${i}`)), 0);
  const serverCpu = cpuTicks(server.pid() ?? 0);
  rows.push(
    `| ${n} | ${((100 * cpu) / wall / n).toFixed(2)} % | ${((bytes / n / 1e6) * (60 / Math.max(1, Math.min(60, wall + 5)))).toFixed(1)} MB | ${(segs / n / wall).toFixed(2)} |`,
  );
  console.error(`n=${n}: ${((100 * cpu) / wall / n).toFixed(2)} % of a core per camera (server used ${serverCpu / 100} s total)`);
  await Promise.all(rings.map((r) => r.stop()));
  await server.stop();
}
rmSync(base, { recursive: true, force: true });
console.log(`\nclip ring per camera (1920x1080 H.264, 25 fps, 4 Mbit/s; ${SECONDS} s measured after 5 s)\n`);
console.log('| cameras | ring ffmpeg CPU (% of one core) | disk held for 60 s | segments/s |');
console.log('| ------- | ------------------------------ | ------------------ | ---------- |');
for (const r of rows) console.log(r);
