/**
 * `gateway speaker test` against each kind of peer: a recording RTP speaker (through the
 * real CLI), baresip over SIP, GStreamer's ONVIF backchannel, and the Hikvision and Dahua
 * fakes; and a dead speaker, which must fail with the reason and a non-zero exit.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { havePeers } from '../peers/require.ts';
import { settingsAt, tempDir } from '../helpers/gateway.ts';
import { speakerTest } from '../../gateway/speaker-test.ts';
import { RtpRecorder } from '../../scripts/sim/rtp-speaker.ts';
import { startBaresip } from '../peers/baresip.ts';
import { PYTHON, startBackchannelCamera } from '../peers/backchannel.ts';
import { startFakeHikvision } from '../peers/hikvision.ts';
import { startFakeDahua } from '../peers/dahua.ts';
import { ROOT } from '../../gateway/paths.ts';

const ok = havePeers('espeak-ng', 'ffmpeg', 'baresip', PYTHON);
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function config(url: string) {
  const dir = tempDir('spk-cli-');
  return {
    dir,
    loaded: settingsAt(dir, `gateway: { data_dir: ${dir}/data }\nspeakers:\n  - { id: s1, name: 测试音柱, url: '${url}', codec: pcma }\n`),
  };
}

async function run(url: string) {
  const lines: string[] = [];
  const code = await speakerTest(config(url).loaded, 's1', { text: '您好，喇叭测试。' }, (l) => lines.push(l));
  return { code, out: lines.join('\n') };
}

describe.runIf(ok)('gateway speaker test', () => {
  it('rtp: the real CLI plays the message; the speaker heard it', async () => {
    const rec = new RtpRecorder({ port: 0, gapMs: 300 });
    await rec.start();
    cleanup.push(() => rec.stop());
    const { dir } = config(`rtp://127.0.0.1:${rec.port}`);
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'gateway/cli.ts'),
        'speaker',
        'test',
        's1',
        '--text',
        '您好，喇叭测试。',
        '--config',
        join(dir, 'settings.yaml'),
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.stdout).toMatch(/played: \d\.\d s of audio/);
    expect(r.status).toBe(0);
    const spurt = await rec.next(2000);
    expect(spurt.durationMs).toBeGreaterThan(700);
    expect(spurt.dbfs).toBeGreaterThan(-30);
  }, 60_000);

  it('sip: calls baresip, which decoded the message', async () => {
    const bs = await startBaresip();
    cleanup.push(bs.stop);
    const r = await run(bs.url);
    expect(r.out).toMatch(/probe: answers \(SIP 200 OK\)/);
    expect(r.out).toMatch(/played:/);
    expect(r.code).toBe(0);
    await new Promise((res) => setTimeout(res, 300));
    expect(bs.received()[0].length / 8000).toBeGreaterThan(0.7);
  }, 60_000);

  it('rtsp: ONVIF backchannel on GStreamer received the message', async () => {
    const cam = await startBackchannelCamera({ codec: 'pcmu' });
    cleanup.push(cam.stop);
    const r = await run(cam.url);
    expect(r.out).toMatch(/probe: answers \(backchannel PCMU\/8000\)/);
    expect(r.code).toBe(0);
    await new Promise((res) => setTimeout(res, 200));
    expect(cam.received().length).toBeGreaterThan(5600);
  }, 60_000);

  it('isapi and dahua: the fakes received the whole message', async () => {
    const hik = await startFakeHikvision({});
    cleanup.push(hik.close);
    const h = await run(hik.url());
    expect(h.code).toBe(0);
    expect(hik.uploads[0].complete).toBe(true);
    const dh = await startFakeDahua({});
    cleanup.push(dh.close);
    const d = await run(dh.url());
    expect(d.code).toBe(0);
    expect(dh.uploads[0].data().length).toBeGreaterThan(5600);
  }, 60_000);

  it('a dead or misconfigured speaker fails with the reason, a hint and exit 1', async () => {
    const bs = await startBaresip();
    await bs.stop();
    const dead = await run(`sip:speaker@127.0.0.1:${bs.port}`);
    expect(dead.code).toBe(1);
    expect(dead.out).toMatch(/FAILED \(refused\)/);
    expect(dead.out).toMatch(/hint: /);
    const hik = await startFakeHikvision({});
    cleanup.push(hik.close);
    const auth = await run(hik.url({ password: 'wrong' }));
    expect(auth.out).toMatch(/FAILED \(auth\)/);
    const missing = await speakerTest(config('rtp://127.0.0.1:5004').loaded, 'nope', {}, () => undefined);
    expect(missing).toBe(2);
  }, 60_000);
});
