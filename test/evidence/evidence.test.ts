/**
 * Evidence sets through the real pipeline: two scenario cameras (ffmpeg), YOLOX-Nano, the
 * tracker and the illegal_parking rule, espeak-ng warnings over RTP, mosquitto. One taxi
 * leaves after the warning (resolved by warning), the other stays and is closed by the
 * platform. Each set must hold every item with matching hashes; the exported archives
 * verify with the CLI in another folder; a flipped byte and a removed event fail with a
 * clear message; the passers-by in the street scene are blurred in the exported still,
 * the taxi is not (checked with the detector run again on the original).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { Collector } from '../helpers/collector.ts';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { ensureScenario } from '../../scripts/scenario.ts';
import { RtpRecorder } from '../../scripts/sim/rtp-speaker.ts';
import type { Gateway } from '../../gateway/controller.ts';
import { ROOT, filesDir } from '../../gateway/paths.ts';
import { readTar, writeTar } from '../../gateway/evidence/tar.ts';
import type { Manifest } from '../../gateway/evidence/manifest.ts';
import { Model } from '../../gateway/detect/model.ts';
import { loadManifest } from '../../gateway/detect/manifest.ts';
import { iou, type Box } from '../../gateway/zones/geometry.ts';

const run = promisify(execFile);
const ok = havePeers('ffmpeg', 'ffprobe', 'espeak-ng', 'mosquitto');
const TOKEN = 'evidence-test-token-0123456789abcdef';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const cam = (id: string, url: string) => `
  - id: ${id}
    url: ${url}
    location: { lat: 28.7712, lon: 118.5553 }
    interval_s: 1
    speakers: [spk-${id}]
    zones:
      - id: plaza
        polygon: [[0.45, 0.78], [0.98, 0.78], [0.98, 0.999], [0.45, 0.999]]
        rules:
          - { type: illegal_parking, dwell_s: 3, grace_s: 10, message: 请驶离 }`;

/** The CLI as a user runs it, in a folder of its own. */
async function cli(args: string[], cwd = ROOT): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [join(ROOT, 'bin/gateway.mjs'), ...args], { cwd, env: { ...process.env } });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout + x.stderr };
  }
}

/** Sharpness of a region: mean absolute difference of horizontally neighbouring grey pixels. */
async function sharpness(jpeg: Buffer, b: Box): Promise<number> {
  const img = sharp(jpeg);
  const { width: W = 0, height: H = 0 } = await img.metadata();
  const left = Math.floor(b[0] * W);
  const top = Math.floor(b[1] * H);
  const width = Math.max(4, Math.floor((b[2] - b[0]) * W));
  const height = Math.max(4, Math.floor((b[3] - b[1]) * H));
  const { data } = await sharp(jpeg).extract({ left, top, width, height }).greyscale().raw().toBuffer({ resolveWithObject: true });
  let sum = 0;
  for (let y = 0; y < height; y++) for (let x = 1; x < width; x++) sum += Math.abs(data[y * width + x] - data[y * width + x - 1]);
  return sum / (height * (width - 1));
}

describe.runIf(ok)('evidence sets through the real pipeline', () => {
  let broker: Mosquitto;
  let heard: Collector;
  let gw: Gateway;
  const rec = { stay: new RtpRecorder({ port: 0 }), leave: new RtpRecorder({ port: 0 }) };
  const dir = tempDir('gw-evidence-');
  const elsewhere = tempDir('gw-evidence-verify-');
  let configFile = '';
  const ids = { stay: '', leave: '' };

  beforeAll(async () => {
    broker = await startMosquitto();
    heard = await Collector.connect(broker.url);
    const out = join(ROOT, 'data', 'scenarios');
    const [stay, leave] = await Promise.all([ensureScenario('spine-stay', { out }), ensureScenario('spine-leave', { out })]);
    await rec.stay.start();
    await rec.leave.start();
    const config = settingsAt(
      dir,
      `
gateway: { id: gw-ev, data_dir: ${dir}/data }
mqtt: { url: '${broker.url}', prefix: t, protocol_version: 5 }
http: { host: 127.0.0.1, port: 0, token: ${TOKEN} }
tracking: { max_missed_s: 4 }
cameras:${cam('stay', stay)}${cam('leave', leave)}
speakers:
  - { id: spk-stay, url: 'rtp://127.0.0.1:${rec.stay.port}' }
  - { id: spk-leave, url: 'rtp://127.0.0.1:${rec.leave.port}' }
`,
    );
    configFile = config.file;
    gw = await startGateway(config);
    const stateOf = (c: string, to: string) => (m: { topic: string; json: Record<string, any> | null }) =>
      /\/events\/[^/]+\/state$/.test(m.topic) && m.json?.camera === c && m.json?.to === to;
    const [left, escalated] = await Promise.all([
      heard.waitFor(stateOf('leave', 'resolved_by_warning'), 90_000, 'leave resolved'),
      heard.waitFor(stateOf('stay', 'escalated'), 90_000, 'stay escalated'),
    ]);
    ids.leave = left.json!.event_id;
    ids.stay = escalated.json!.event_id;
    // The platform closes the one that stayed (no officer in this test).
    gw.events.resolve(ids.stay, 'towed away');
    const sealed = async (id: string) => {
      for (let i = 0; i < 120 && !gw.evidence.repo.manifestOf(id); i++) await new Promise((r) => setTimeout(r, 500));
      expect(gw.evidence.repo.manifestOf(id), `manifest of ${id}`).not.toBeNull();
    };
    await Promise.all([sealed(ids.leave), sealed(ids.stay)]);
  }, 200_000);

  afterAll(async () => {
    await gw?.stop();
    rec.stay.stop();
    rec.leave.stop();
    await heard?.close();
    await broker?.stop();
  });

  const manifestOf = (id: string) => JSON.parse(gw.evidence.repo.manifestOf(id)!.body.toString('utf8')) as Manifest;

  it('keeps the box key in the data folder, readable by the gateway only', () => {
    const st = statSync(join(dir, 'data', 'evidence-key.pem'));
    expect(st.mode & 0o777).toBe(0o600);
  });

  it.each(['leave', 'stay'] as const)('the %s event has every item, each hashed as stored', async (which) => {
    const id = ids[which];
    const m = manifestOf(id);
    expect(m.event).toMatchObject({ id, type: 'illegal_parking', camera: which, zone: 'plaza' });
    expect(m.event.rule).toMatchObject({ type: 'illegal_parking', dwell_s: 3, grace_s: 10 });
    expect(m.gateway).toMatchObject({ id: 'gw-ev', key_sha256: gw.evidence.key.fingerprint });
    const names = m.items.map((i) => i.name).sort();
    expect(names).toEqual(
      ['clip.mp4', 'confirmation.jpg', 'picture.jpg', 'recheck.jpg', `warning-spk-${which}-0.wav`, 'warning.jpg'].sort(),
    );
    expect(m.missing).toEqual([]);
    for (const it of gw.evidence.repo.items(id)) {
      const data = readFileSync(it.path);
      expect(sha(data), it.name).toBe(m.items.find((x) => x.name === it.name)!.sha256);
      if (it.redactedPath) expect(sha(readFileSync(it.redactedPath))).toBe(m.items.find((x) => x.name === it.name)!.redacted!.sha256);
    }
    // Stills in time order: confirmation, warning start, recheck.
    const at = (n: string) => Date.parse(m.items.find((i) => i.name === n)!.at);
    expect(at('confirmation.jpg')).toBeLessThanOrEqual(at('warning.jpg'));
    expect(at('recheck.jpg') - at('warning.jpg')).toBeGreaterThan(8000);
    // The clip is the camera's H.264, copied, around the confirmation.
    const clip = gw.evidence.repo.items(id).find((i) => i.name === 'clip.mp4')!;
    const probe = JSON.parse(
      (await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height:format=duration', '-of', 'json', clip.path]))
        .stdout,
    );
    expect(probe.streams[0]).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
    expect(Number(probe.format.duration)).toBeGreaterThan(10);
    const d = clip.data as { start: string; end: string };
    expect(Date.parse(d.start)).toBeLessThan(Date.parse(m.event.confirmed_at));
    expect(Date.parse(d.end)).toBeGreaterThanOrEqual(Date.parse(m.event.confirmed_at) + 10_000);
    // The audio is what the speaker got: as long as the warning that was reported.
    const wav = gw.evidence.repo.items(id).find((i) => i.kind === 'audio')!;
    const samples = statSync(wav.path).size - 44;
    expect(Math.abs(samples / 8000 - (wav.data.duration_ms as number) / 1000)).toBeLessThan(0.05);
    expect(samples).toBeGreaterThan(4000);
  });

  it('chains the manifests: the second names the first one', () => {
    const [a, b] = gw.evidence.repo.manifests();
    expect(b.prevSha256).toBe(a.sha256);
    expect(JSON.parse(b.body.toString()).chain).toEqual({ seq: 2, prev_sha256: a.sha256 });
  });

  it('exports each event to an archive that verifies elsewhere, with the CLI', async () => {
    for (const which of ['leave', 'stay'] as const) {
      const out = join(elsewhere, `${which}.tar`);
      const ex = await cli(['evidence', 'export', ids[which], '--config', configFile, '--out', out]);
      expect(ex.out).toContain('bystanders blurred');
      expect(ex.code).toBe(0);
      const files = readTar(readFileSync(out)).map((e) => e.name);
      expect(files).toEqual(expect.arrayContaining(['manifest.json', 'manifest.sig', 'public-key.pem', 'redacted/confirmation.jpg']));
      // The originals and the clip do not leave without --unredacted; the audio does.
      expect(files).not.toContain('items/confirmation.jpg');
      expect(files).not.toContain('items/clip.mp4');
      expect(files).toContain(`items/warning-spk-${which}-0.wav`);
    }
    const v = await cli(['evidence', 'verify', 'leave.tar', 'stay.tar'], elsewhere);
    expect(v.out).toContain('signature good');
    expect(v.out).toContain('chain: manifests 1..2 link without a gap');
    expect(v.out).toMatch(/clip\.mp4 \(not blurred/);
    expect(v.code).toBe(0);
  }, 120_000);

  it('serves the same archive over HTTP, and the unredacted one only with a name and a reason, recorded', async () => {
    const base = `${gw.http!.base}/evidence/${ids.leave}.tar`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(base)).status).toBe(401);
    const res = await fetch(base, { headers: auth });
    expect(res.status).toBe(200);
    writeFileSync(join(elsewhere, 'http.tar'), Buffer.from(await res.arrayBuffer()));
    expect((await cli(['evidence', 'verify', 'http.tar'], elsewhere)).code).toBe(0);
    const refused = await fetch(`${base}?unredacted=1`, { headers: auth });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toMatch(/who asks for it and why/);
    const full = await fetch(`${base}?unredacted=1&by=${encodeURIComponent('李 (法制科)')}&reason=case-2026-118`, { headers: auth });
    expect(full.status).toBe(200);
    const entries = readTar(Buffer.from(await full.arrayBuffer())).map((e) => e.name);
    expect(entries).toEqual(expect.arrayContaining(['items/confirmation.jpg', 'items/clip.mp4']));
    const audit = gw.evidence.repo.exports(ids.leave).filter((e) => e.unredacted);
    expect(audit).toEqual([expect.objectContaining({ via: 'http', actor: '李 (法制科)', reason: 'case-2026-118' })]);
    // The CLI's unredacted export verifies too (originals against their own hashes).
    const cl = await cli(['evidence', 'export', ids.leave, '--config', configFile, '--out', join(elsewhere, 'full.tar'), '--unredacted']);
    expect(cl.code).not.toBe(0);
    expect(cl.out).toMatch(/--by NAME --reason TEXT/);
    const cl2 = await cli([
      ...['evidence', 'export', ids.leave, '--config', configFile, '--out', join(elsewhere, 'full.tar')],
      ...['--unredacted', '--by', 'officer 7', '--reason', 'court'],
    ]);
    expect(cl2.code).toBe(0);
    const v = await cli(['evidence', 'verify', 'full.tar'], elsewhere);
    expect(v.out).toMatch(/7 file\(s\) match|file\(s\) match/);
    expect(v.code).toBe(0);
    expect(gw.evidence.repo.exports(ids.leave).filter((e) => e.unredacted)).toHaveLength(2);
  }, 120_000);

  it('fails verification with a clear message when a byte is flipped', async () => {
    const entries = readTar(readFileSync(join(elsewhere, 'leave.tar')));
    const still = entries.find((e) => e.name === 'redacted/confirmation.jpg')!;
    still.data[Math.floor(still.data.length / 2)] ^= 0x01;
    writeFileSync(join(elsewhere, 'flipped.tar'), writeTar(entries));
    const v = await cli(['evidence', 'verify', 'flipped.tar'], elsewhere);
    expect(v.code).toBe(1);
    expect(v.out).toContain('FAILED: flipped.tar: redacted/confirmation.jpg: SHA-256 does not match the manifest: the file was changed');

    const e2 = readTar(readFileSync(join(elsewhere, 'leave.tar')));
    const man = e2.find((e) => e.name === 'manifest.json')!;
    man.data = Buffer.from(man.data.toString().replace('"illegal_parking"', '"street_vending"'));
    writeFileSync(join(elsewhere, 'edited.tar'), writeTar(e2));
    const v2 = await cli(['evidence', 'verify', 'edited.tar'], elsewhere);
    expect(v2.code).toBe(1);
    expect(v2.out).toContain('the signature does not match manifest.json');
  }, 90_000);

  it('blurs the passers-by in the exported still and keeps the taxi sharp', async () => {
    const item = gw.evidence.repo.items(ids.stay).find((i) => i.name === 'confirmation.jpg')!;
    const original = readFileSync(item.path);
    const exported = readTar(readFileSync(join(elsewhere, 'stay.tar'))).find((e) => e.name === 'redacted/confirmation.jpg')!.data;
    // The detector, run again here on the original, finds the people independently.
    const model = await Model.load(loadManifest('yolox_nano'), filesDir(), 1);
    const { data, info } = await sharp(original)
      .resize(416, 416, { fit: 'inside' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const found = await model.detect(data, info.width, info.height);
    await model.release();
    const subject = JSON.parse((gw.ctx.db.prepare('SELECT box FROM events WHERE id = ?').get(ids.stay) as { box: string }).box) as Box;
    const people = found.filter((d) => d.label === 'person' && d.score > 0.4 && d.box[3] - d.box[1] > 0.12 && iou(d.box, subject) < 0.1);
    expect(people.length, JSON.stringify(found)).toBeGreaterThanOrEqual(2);
    for (const p of people) {
      const [x1, y1, x2, y2] = p.box;
      const head: Box = [x1 + 0.2 * (x2 - x1), y1 + 0.02 * (y2 - y1), x2 - 0.2 * (x2 - x1), y1 + 0.25 * (y2 - y1)];
      const before = await sharpness(original, head);
      const after = await sharpness(exported, head);
      expect(after, `person at ${p.box.map((v) => v.toFixed(2))}: sharpness ${before.toFixed(1)} → ${after.toFixed(1)}`).toBeLessThan(
        before * 0.6,
      );
    }
    const s0 = await sharpness(original, subject);
    const s1 = await sharpness(exported, subject);
    expect(s1).toBeGreaterThan(s0 * 0.85);
    expect(existsSync(item.path)).toBe(true); // the original stays on the box
  }, 120_000);

  it('links the blurred picture in the event message, not the original', async () => {
    const ev = await heard.waitFor((x) => x.topic === 't/v1/gateways/gw-ev/events' && x.json?.id === ids.stay, 1000, 'event');
    const res = await fetch(ev.json!.evidence.url);
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    const pic = gw.evidence.repo.items(ids.stay).find((i) => i.name === 'picture.jpg')!;
    expect(sha(body)).toBe(pic.redactedSha256);
    expect(res.headers.get('x-evidence-sha256')).toBe(pic.redactedSha256);
    copyFileSync(pic.path, join(elsewhere, 'picture-original.jpg'));
  });
  it('fails verification of the chain when an event was removed', async () => {
    const full = join(elsewhere, 'chain.tar');
    expect((await cli(['evidence', 'export', '--chain', '--config', configFile, '--out', full])).code).toBe(0);
    expect((await cli(['evidence', 'verify', 'chain.tar'], elsewhere)).code).toBe(0);
    // Someone removes the first event's evidence from the box, manifest and all.
    gw.ctx.db.prepare('DELETE FROM evidence_manifests WHERE seq = 1').run();
    const cut = join(elsewhere, 'chain-cut.tar');
    expect((await cli(['evidence', 'export', '--chain', '--config', configFile, '--out', cut])).code).toBe(0);
    const v = await cli(['evidence', 'verify', 'chain-cut.tar'], elsewhere);
    expect(v.code).toBe(1);
    expect(v.out).toContain('the chain starts at manifest 2, not 1: the first 1 were removed');
    // The second event's own archive still verifies, and says which manifest it follows.
    expect((await cli(['evidence', 'verify', 'stay.tar'], elsewhere)).code).toBe(0);
  }, 90_000);
});
