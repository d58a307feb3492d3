/**
 * Retention and a full disk, on a real small filesystem: the gateway's data folder is a
 * 48 MB tmpfs (mounted here; needs root, as on the CI runner). Events are real (the event
 * service, SQLite, the outbox, mosquitto); their clips are large files added to their
 * sets. When something else fills the disk, the evidence of the oldest closed events goes
 * first, then the clips of open events; the events, the database and the outbox keep
 * working, and a disk_low alert reaches the platform. Retention by age is checked with a
 * clock moved 31 days on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { injectEvent } from '../helpers/inject.ts';
import { loadContract } from '../helpers/contract.ts';
import type { Gateway } from '../../gateway/controller.ts';
import type { EventRecord } from '../../gateway/events/types.ts';
import { Retention } from '../../gateway/evidence/retention.ts';
import { verifyArchives } from '../../gateway/evidence/verify.ts';
import { sha256 } from '../../gateway/evidence/manifest.ts';

const MB = 1e6;

/** A tmpfs of `mb` at `dir`; false when this machine does not let us mount (not root). */
function mountTmpfs(dir: string, mb: number): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch (e) {
    const msg = `cannot mount a tmpfs at ${dir} (${(e as Error).message.split('\n')[0]}); run as root`;
    if (process.env.CI === 'true') throw new Error(msg);
    console.warn(`SKIP: ${msg}`);
    return false;
  }
}

const base = tempDir('gw-retention-');
const data = join(base, 'data');
const mounted = havePeers('mosquitto') && mountTmpfs(data, 48);

describe.runIf(mounted)('evidence on a small disk that fills up', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let gw: Gateway;
  const closed: EventRecord[] = [];
  let open: EventRecord;
  const free = () => {
    const s = statfsSync(data);
    return s.bavail * s.bsize;
  };

  /** A 4 MB clip added to an event's set, as the ring would have cut it. */
  async function addClip(e: EventRecord): Promise<void> {
    const dir = join(data, 'evidence', 'sets', 'test', e.id);
    mkdirSync(dir, { recursive: true });
    const bytes = randomBytes(4 * MB);
    writeFileSync(join(dir, 'clip.mp4'), bytes);
    await gw.evidence.repo.addItem({
      eventId: e.id,
      name: 'clip.mp4',
      kind: 'clip',
      moment: 'confirmation',
      at: e.confirmedAt,
      path: join(dir, 'clip.mp4'),
      sha256: sha256(bytes),
      bytes: bytes.length,
      source: 'test',
      data: {},
      redactedPath: null,
      redactedSha256: null,
      redactedBytes: null,
    });
  }

  const live = (e: EventRecord) =>
    gw.evidence.repo.items(e.id).filter((i) => i.kind === 'clip' && i.deletedAt === null && existsSync(i.path));

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url, 'r/#');
    gw = await startGateway(
      settingsAt(
        base,
        `
gateway: { id: gw-r, data_dir: ${data}, evidence_min_free_mb: 1 }
mqtt: { url: '${broker.url}', prefix: r }
http: { enabled: false }
stats: { interval_s: 0 }
evidence: { disk: { min_free_mb: 10, check_s: 600 } }
cameras:
  - { id: cam, enabled: false, url: 'rtsp://127.0.0.1:9/x', location: { lat: 28.77, lon: 118.55 }, zones: [{ id: z, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], rules: [{ type: illegal_parking }] }] }
`,
      ),
    );
    for (let i = 0; i < 5; i++) {
      const e = await injectEvent(gw, 'cam');
      await addClip(e);
      gw.events.resolve(e.id, `done ${i}`);
      closed.push(e);
      await new Promise((r) => setTimeout(r, 20)); // distinct closing times
    }
    open = await injectEvent(gw, 'cam');
    await addClip(open);
    for (const e of closed)
      for (let i = 0; i < 100 && !gw.evidence.repo.manifestOf(e.id); i++) await new Promise((r) => setTimeout(r, 100));
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    await heard?.close();
    await broker?.stop();
    try {
      execFileSync('umount', [data]);
    } catch {
      /* not mounted */
    }
    rmSync(base, { recursive: true, force: true });
  });

  it('deletes the evidence of the oldest closed events first, just enough, and alerts the platform', async () => {
    expect(closed.every((e) => live(e).length === 1)).toBe(true);
    // Something else (recordings, logs) fills the disk to 3 MB under the minimum.
    const filler = Math.max(0, free() - 7 * MB);
    writeFileSync(join(data, 'filler-1'), Buffer.alloc(filler));
    expect(free()).toBeLessThan(10 * MB);
    const r = gw.evidence.retention.sweep();
    expect(r.freeBytes).toBeGreaterThanOrEqual(10 * MB);
    expect(r.low).toBe(false);
    // The oldest closed event lost its evidence; the newer ones and the open one kept theirs.
    expect(live(closed[0])).toHaveLength(0);
    expect(closed.slice(1).every((e) => live(e).length === 1)).toBe(true);
    expect(live(open)).toHaveLength(1);
    const deleted = gw.evidence.repo.items(closed[0].id).find((i) => i.name === 'clip.mp4')!;
    expect(deleted.deletedWhy).toBe('low disk: oldest closed event');
    const alert = await heard.waitFor((m) => m.topic === 'r/v1/gateways/gw-r/alerts' && m.json?.kind === 'disk_low', 10_000, 'alert');
    expect(alert.json!.message).toMatch(/data disk was low: deleted \d+ MB of the oldest evidence/);
    expect((await loadContract('r')).check(alert.topic, alert.json)).toEqual([]);
  });

  it('takes every closed event before the clip of an open one, and keeps events and the outbox working', async () => {
    // Filled again, twice: two more closed events each time, oldest first; the open one's clip stays.
    writeFileSync(join(data, 'filler-2'), Buffer.alloc(Math.max(0, free() - 3 * MB)));
    gw.evidence.retention.sweep();
    expect(closed.map((e) => live(e).length)).toEqual([0, 0, 0, 1, 1]);
    writeFileSync(join(data, 'filler-3'), Buffer.alloc(Math.max(0, free() - 3 * MB)));
    gw.evidence.retention.sweep();
    expect(closed.map((e) => live(e).length)).toEqual([0, 0, 0, 0, 0]);
    expect(live(open)).toHaveLength(1);
    // Nothing closed is left: the open event's clip goes, and the platform hears the disk is still low.
    writeFileSync(join(data, 'filler-4'), Buffer.alloc(Math.max(0, free() - 3 * MB)));
    const r = gw.evidence.retention.sweep();
    expect(live(open)).toHaveLength(0);
    expect(gw.evidence.repo.items(open.id).find((i) => i.kind === 'clip')!.deletedWhy).toBe('low disk: clip of an open event');
    expect(r.low).toBe(true);
    await heard.waitFor((m) => m.topic === 'r/v1/gateways/gw-r/alerts' && /nothing more to delete/.test(m.json?.message), 10_000, 'alert');
    // The database and the outbox never failed: every event is there, a new one is recorded and sent.
    const rows = gw.ctx.db.prepare('SELECT id, state FROM events ORDER BY seq').all() as { id: string; state: string }[];
    expect(rows.map((x) => x.id)).toEqual([...closed.map((e) => e.id), open.id]);
    expect(rows.slice(0, 5).every((x) => x.state === 'closed')).toBe(true);
    const next = await injectEvent(gw, 'cam');
    await heard.waitFor((m) => m.topic === 'r/v1/gateways/gw-r/events' && m.json?.id === next.id, 10_000, 'new event');
    for (let i = 0; i < 50 && gw.ctx.uplink.pending() > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(gw.ctx.uplink.pending()).toBe(0);
    for (const f of ['filler-1', 'filler-2', 'filler-3', 'filler-4']) rmSync(join(data, f));
  });

  it('exports an event whose clip was deleted: the archive verifies and says what was deleted and why', () => {
    const tar = gw.evidence.archive(closed[0].id, { unredacted: true, via: 'cli', actor: 'test', reason: 'retention check' });
    const r = verifyArchives([{ name: 'a.tar', data: tar }]);
    expect(r.problems).toEqual([]);
    expect(r.lines.join('\n')).toMatch(/clip\.mp4 \(deleted from the box on .* \(low disk: oldest closed event\)\)/);
    // What the event never had is said, with why: no speaker here, so no warning and no recheck.
    // (Resolved at once, the event may end before its escalation step runs: then how it ended is the why.)
    expect(r.lines.join('\n')).toMatch(/warning still \(no warning played \((no speaker at this camera|done 0)\)\)/);
    expect(r.lines.join('\n')).toContain('recheck still (the event had no recheck (escalated or ended before it))');
  });

  it('deletes by age, per class: unredacted originals and clips after 30 days, blurred copies kept', async () => {
    const later = new Retention(
      { ...gw.ctx, clock: { now: () => Date.now() + 31 * 86_400_000 } },
      gw.evidence.repo,
      gw.ctx.config.settings.evidence,
      data,
    );
    // A fresh closed event with a picture (original + blurred copy) and a clip.
    const e = await injectEvent(gw, 'cam');
    await addClip(e);
    gw.events.resolve(e.id, 'done');
    for (let i = 0; i < 100 && !gw.evidence.repo.manifestOf(e.id); i++) await new Promise((r) => setTimeout(r, 100));
    later.sweep();
    const after = gw.evidence.repo.items(e.id);
    expect(after.find((i) => i.kind === 'clip')!.deletedWhy).toBe('retention: clips');
    const pic = after.find((i) => i.name === 'picture.jpg')!;
    expect(pic.deletedWhy).toBe('retention: unredacted originals');
    expect(existsSync(pic.path)).toBe(false);
    expect(pic.redactedDeletedAt).toBeNull();
    expect(readFileSync(pic.redactedPath!).length).toBe(pic.redactedBytes);
    // The open event's set is not touched by age: it has not closed.
    expect(gw.evidence.repo.items(open.id).find((i) => i.name === 'picture.jpg')!.deletedAt).toBeNull();
  });
});
