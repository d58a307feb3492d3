/**
 * A data_dir on a small tmpfs that fills up, with a real gateway and a real mosquitto:
 * the periodic writers (telemetry) report "disk full" instead of killing the process,
 * /health and an alert name it, and writes resume once space is freed. Evidence is
 * written whole or not at all, and gives way (the floor) before the database does. A
 * confirmed event the database refuses is held and written once space is back: none lost,
 * none twice, no gap in `seq`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { injectEvent } from '../helpers/inject.ts';
import { canMountTmpfs, mountTmpfs, type Tmpfs } from '../helpers/tmpfs.ts';
import { writeEvidence } from '../../gateway/events/evidence.ts';
import type { Gateway } from '../../gateway/controller.ts';

const ok = havePeers('mosquitto') && canMountTmpfs();
const MB = 1024 * 1024;

const yaml = (dataDir: string, broker: string, floorMb: number) => `
gateway: { id: gw-d, data_dir: ${dataDir}, evidence_min_free_mb: ${floorMb} }
mqtt: { url: '${broker}', prefix: d }
http: { host: 127.0.0.1, port: 0, token: a-long-enough-api-token-0123456789 }
stats: { interval_s: 0 }
cameras:
  - { id: cam, enabled: false, url: 'rtsp://127.0.0.1:9/x', location: { lat: 28.77, lon: 118.55 }, zones: [{ id: z, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], rules: [{ type: illegal_parking }] }] }
`;

/** Every file under `dir`, relative. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1));
}

describe.runIf(ok)('a full disk', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let gw: Gateway;
  let fs: Tmpfs;
  const health = async () =>
    (await (await fetch(`${gw.http!.base}/health`)).json()) as { status: string; problems: { kind: string; message: string }[] };

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url, 'd/#');
    fs = mountTmpfs(6 * MB);
    // A stale temp file from an earlier crash is removed at start.
    mkdirSync(join(fs.dir, 'evidence', '2026-01-01'), { recursive: true });
    writeFileSync(join(fs.dir, 'evidence', '2026-01-01', 'stale.jpg.tmp'), '');
    gw = await startGateway(settingsAt(tempDir('gw-disk-'), yaml(fs.dir, broker.url, 1)));
    await heard.waitFor((m) => m.topic === 'd/v1/gateways/gw-d/status' && m.json?.state === 'online', 10_000, 'online');
  }, 30_000);

  afterAll(async () => {
    await gw?.stop();
    fs?.unmount();
    await heard?.close();
    await broker?.stop();
  });

  it('starts with data_dir 0700, gateway.db 0600, and no temp files left', async () => {
    expect(statSync(fs.dir).mode & 0o777).toBe(0o700);
    for (const f of ['gateway.db', 'gateway.db-wal']) expect(statSync(join(fs.dir, f)).mode & 0o777, f).toBe(0o600);
    expect(existsSync(join(fs.dir, 'evidence', '2026-01-01', 'stale.jpg.tmp'))).toBe(false);
    const e = await injectEvent(gw, 'cam');
    expect(statSync(e.evidencePath!).mode & 0o777).toBe(0o600);
    expect((await health()).status).toBe('ok');
  });

  it('telemetry on a full disk is reported (health, alert), not thrown; it resumes when space is freed', async () => {
    const filler = fs.fill();
    // The WAL grows with each commit until the file system refuses.
    for (let i = 0; i < 500 && !gw.ctx.faults.has('disk_full'); i++) expect(() => gw.publishTelemetry()).not.toThrow();
    expect(gw.ctx.faults.has('disk_full')).toBe(true);
    const h = await health();
    expect(h.status).toBe('degraded');
    expect(h.problems.map((p: { message: string }) => p.message).join('\n')).toMatch(/^disk full: telemetry could not be written/m);
    const alert = await heard.waitFor((m) => m.topic === 'd/v1/gateways/gw-d/alerts' && m.json?.kind === 'disk_full', 5000, 'alert');
    expect(alert.json!.message).toContain('disk full');

    rmSync(filler);
    gw.publishTelemetry();
    gw.checkDisk();
    expect(gw.ctx.faults.list()).toEqual([]);
    expect((await health()).status).toBe('ok');
    await heard.waitFor((m) => m.topic === 'd/v1/gateways/gw-d/telemetry', 5000, 'telemetry after the disk was freed');
  });

  it('below the evidence floor the event is recorded without its picture; pictures resume above it', async () => {
    const filler = fs.fill(MB / 2);
    gw.checkDisk();
    const h = await health();
    expect(h.status).toBe('degraded');
    expect(h.problems[0]).toMatchObject({ kind: 'disk_low', message: expect.stringMatching(/^disk nearly full: .* MB free/) });
    const low = await injectEvent(gw, 'cam');
    expect(low.evidencePath).toBeNull();
    expect(gw.ctx.db.prepare('SELECT evidence_path AS p FROM events WHERE id = ?').get(low.id)).toEqual({ p: null });

    rmSync(filler);
    gw.checkDisk();
    expect((await health()).status).toBe('ok');
    const back = await injectEvent(gw, 'cam');
    expect(existsSync(back.evidencePath!)).toBe(true);
  });

  it('an evidence write that runs out of space leaves nothing behind, not a cut picture', async () => {
    const dir = join(fs.dir, 'cut');
    const filler = fs.fill(16 * 1024);
    const before = files(fs.dir).length;
    const input = {
      eventId: '01JCUT',
      rgb: randomBytes(320 * 240 * 3),
      width: 320,
      height: 240,
      polygon: [],
      boxes: [],
      title: 't',
      at: 0,
    };
    await expect(writeEvidence(dir, input)).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(files(fs.dir).filter((f) => f.startsWith('cut/'))).toEqual([]);
    expect(files(fs.dir).length).toBe(before);
    rmSync(filler);
    const ev = await writeEvidence(dir, input);
    expect(statSync(ev.path).size).toBe(ev.bytes);
  });

  it('confirmed events the full disk refuses are held, named by /health, and all recorded once after space is freed', async () => {
    const sleep = (ms: number) => new Promise<null>((r) => setTimeout(() => r(null), ms));
    const seqBefore = (gw.ctx.db.prepare('SELECT max(seq) AS s FROM events').get() as { s: number }).s;
    const filler = fs.fill();
    const confirmed: { id?: string; p: Promise<{ id: string; seq: number }> }[] = [];
    // SQLite fills pages it already has first: confirm until one is refused, then a few more.
    for (let i = 0; i < 400 && gw.events.heldEvents() === 0; i++) {
      const p = injectEvent(gw, 'cam');
      confirmed.push({ p });
      // Settled, or held: never a second one in flight (writing the evidence takes long on a busy box).
      while (
        (await Promise.race([
          p.then(
            () => true,
            () => true,
          ),
          sleep(10),
        ])) !== true &&
        gw.events.heldEvents() === 0
      );
    }
    expect(gw.events.heldEvents()).toBe(1);
    for (let i = 0; i < 3; i++) confirmed.push({ p: injectEvent(gw, 'cam') });
    await sleep(3000); // a retry or more, the disk still full
    expect(gw.events.heldEvents()).toBe(4);
    const h = await health();
    expect(h.status).toBe('degraded');
    expect(h.problems.find((p) => p.kind === 'disk_full')?.message).toMatch(
      /^disk full: 4 confirmed events \(oldest .*\) held in memory until the database can take them/,
    );
    // Another write getting through does not end the condition while events are held.
    gw.ctx.faults.guard('a small write', () => undefined);
    expect(gw.ctx.faults.has('disk_full')).toBe(true);

    rmSync(filler);
    gw.checkDisk();
    const stored = await Promise.all(confirmed.map((c) => Promise.race([c.p, sleep(15_000).then(() => ({ id: 'timeout', seq: -1 }))])));
    expect(stored.map((e) => e.id)).not.toContain('timeout');
    expect(gw.events.heldEvents()).toBe(0);
    expect(gw.ctx.faults.has('disk_full')).toBe(false);
    expect((await health()).status).toBe('ok');
    // Each once in the database, with seq following on without a gap, and each once on the wire.
    const rows = gw.ctx.db.prepare('SELECT id, seq FROM events WHERE seq > ? ORDER BY seq').all(seqBefore) as { id: string; seq: number }[];
    expect(rows.map((r) => r.id).sort()).toEqual(stored.map((e) => e.id).sort());
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => seqBefore + 1 + i));
    for (const e of stored) {
      await heard.waitFor((m) => m.topic === 'd/v1/gateways/gw-d/events' && m.json?.id === e.id, 10_000, `event ${e.id}`);
      expect(heard.find((m) => m.topic === 'd/v1/gateways/gw-d/events' && m.json?.id === e.id)).toHaveLength(1);
    }
  }, 90_000);
});
