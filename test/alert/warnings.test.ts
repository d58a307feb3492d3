/**
 * Warning scheduling and sources: quiet hours in the site's time zone, the per-zone rate
 * limit, one message at a time per speaker (real RTP speaker, real espeak-ng and ffmpeg),
 * message layers and variables, and the sherpa-onnx fallback to espeak-ng.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { quietRange, ZoneRateLimiter } from '../../gateway/alert/schedule.ts';
import { render, resolveMessage, unknownVariables } from '../../gateway/alert/messages.ts';
import { chooseTts, modelProblem } from '../../gateway/alert/tts.ts';
import { AudioCache } from '../../gateway/alert/audio.ts';
import { Warner } from '../../gateway/alert/warner.ts';
import { SpeakerHealthBoard } from '../../gateway/alert/health.ts';
import { RtpSpeaker, parseRtpUrl } from '../../devices/speakers/rtp/driver.ts';
import { RtpRecorder } from '../../scripts/sim/rtp-speaker.ts';
import { systemClock } from '../../gateway/clock.ts';
import { havePeers } from '../peers/require.ts';
import { tempDir } from '../helpers/gateway.ts';
import { openDb } from '../../gateway/store/db.ts';
import { EventsRepo } from '../../gateway/store/events.ts';

const at = (iso: string) => Date.parse(iso);

describe('quiet hours', () => {
  it('wraps midnight and follows the site time zone, not the host clock', () => {
    const r = ['22:00-07:00'];
    expect(quietRange(r, at('2025-06-01T14:30:00Z'), 'Asia/Shanghai')).toBe('22:00-07:00'); // 22:30 in Shanghai
    expect(quietRange(r, at('2025-06-01T22:59:00Z'), 'Asia/Shanghai')).toBe('22:00-07:00'); // 06:59
    expect(quietRange(r, at('2025-06-01T23:00:00Z'), 'Asia/Shanghai')).toBeNull(); // 07:00
    expect(quietRange(r, at('2025-06-01T13:59:00Z'), 'Asia/Shanghai')).toBeNull(); // 21:59
    expect(quietRange(r, at('2025-06-01T14:30:00Z'), 'UTC')).toBeNull();
    expect(quietRange(['12:00-13:30'], at('2025-06-01T04:10:00Z'), 'Asia/Shanghai')).toBe('12:00-13:30');
    expect(quietRange([], at('2025-06-01T14:30:00Z'), 'Asia/Shanghai')).toBeNull();
  });
});

describe('per-zone rate limit', () => {
  it('lets max warnings through per window, per zone, and says when the next may sound', () => {
    const l = new ZoneRateLimiter(2, 60_000);
    expect(l.nextAllowed('cam/a', 0)).toBeNull();
    l.record('cam/a', 0);
    l.record('cam/a', 10_000);
    expect(l.nextAllowed('cam/a', 20_000)).toBe(60_000);
    expect(l.nextAllowed('cam/b', 20_000)).toBeNull();
    expect(l.nextAllowed('cam/a', 60_001)).toBeNull();
    l.record('cam/a', 60_001);
    expect(l.nextAllowed('cam/a', 60_002)).toBe(70_000);
  });

  it('remembers across a restart the first warnings the warnings table holds, not skips or repeats', () => {
    const db = openDb(':memory:');
    const ev =
      db.prepare(`INSERT INTO events (id, type, camera_id, zone_id, state, track_ids, classes, box, first_seen_at, confirmed_at, data, updated_at)
      VALUES (?, 'illegal_parking', 'cam', ?, 'warned', '[]', '[]', '[0,0,1,1]', 0, 0, '{}', 0)`);
    const w = db.prepare(`INSERT INTO warnings (event_id, speaker_id, at, outcome, text, repeat) VALUES (?, ?, ?, ?, 't', ?)`);
    ev.run('E1', 'a');
    w.run('E1', 'spk1', 100_000, 'played', 0);
    w.run('E1', 'spk2', 100_200, 'failed', 0); // the same warning on a second speaker
    w.run('E1', 'spk1', 130_000, 'played', 1); // its firmer repeat
    ev.run('E2', 'b');
    w.run('E2', 'spk1', 110_000, 'skipped', 0); // quiet hours: never counted
    ev.run('E3', 'c');
    w.run('E3', 'spk1', 10_000, 'played', 0); // outside the window
    const repo = new EventsRepo(db);
    expect(repo.firstWarningsSince(150_000 - 120_000)).toEqual([{ zone: 'cam/a', at: 100_000 }]);
    const l = new ZoneRateLimiter(1, 120_000);
    l.restore(repo.firstWarningsSince(150_000 - l.windowMs));
    expect(l.nextAllowed('cam/a', 150_000)).toBe(220_000);
    expect(l.nextAllowed('cam/b', 150_000)).toBeNull();
    expect(l.nextAllowed('cam/c', 150_000)).toBeNull();
  });
});

describe('messages', () => {
  it('merges site, camera and zone layers field by field, and fills variables', () => {
    const m = resolveMessage('illegal_parking', [
      { firm: '{place}禁止停车，请立即驶离！', clip: 'site.wav' },
      '您好，{place}{zone}禁止停车。',
      { firm_clip: 'zone-firm.mp3' },
    ]);
    expect(m).toEqual({
      text: '您好，{place}{zone}禁止停车。',
      firm: '{place}禁止停车，请立即驶离！',
      clip: undefined,
      firmClip: 'zone-firm.mp3',
    });
    expect(render(m.text, { place: '中心街', zone: '广场', camera: 'c', type_zh: '违章停车' })).toBe('您好，中心街广场禁止停车。');
    expect(render('{place}，请驶离', { place: '' })).toBe('请驶离');
    expect(unknownVariables('{place} {plcae} {type_zh}')).toEqual(['plcae']);
    expect(resolveMessage('open_burning', []).firm).toContain('熄灭火源');
  });
});

describe('speech engine choice', () => {
  const w = (model_dir?: string) => ({ tts: 'sherpa' as const, voice: 'cmn', speed: 150, sherpa: { model_dir, speaker_id: 0, speed: 1 } });
  it('falls back to espeak-ng with the reason when the model folder is missing or incomplete', async () => {
    const dir = tempDir('sherpa-');
    const missing = await chooseTts(w(join(dir, 'nope')), (p) => p);
    expect(missing.engine.key).toMatch(/^espeak:cmn:150/);
    expect(missing.fallback).toMatch(/does not exist/);
    expect(modelProblem(dir)).toMatch(/no \.onnx model/);
  });

  it('falls back to espeak-ng when the sherpa-onnx package is absent (checked in a child process)', async () => {
    const dir = tempDir('sherpa-');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.onnx'), 'not really');
    writeFileSync(join(dir, 'tokens.txt'), 'a 1\n');
    const choice = await chooseTts(w(dir), (p) => p, undefined, 'sherpa-onnx-node-not-here');
    expect(choice.engine.key).toMatch(/^espeak:/);
    expect(choice.fallback).toMatch(/sherpa-onnx-node-not-here is not installed/);
    // espeak is the default and needs no check at all
    expect((await chooseTts({ ...w(dir), tts: 'espeak' }, (p) => p)).fallback).toBeUndefined();
  }, 30_000);
});

describe.runIf(havePeers('espeak-ng', 'ffmpeg'))('warner', () => {
  it('plays one message at a time per speaker, in order; both are heard in full', async () => {
    const rec = new RtpRecorder({ port: 0, gapMs: 250 });
    await rec.start();
    try {
      const spk = new RtpSpeaker('s1', parseRtpUrl(`rtp://127.0.0.1:${rec.port}`));
      const warner = new Warner(new Map([['s1', spk]]), new AudioCache(tempDir('audio-'), { voice: 'cmn', speed: 170 }), systemClock);
      const [a, b] = await Promise.all([
        warner.warn({ eventId: 'e1', text: '您好，此处禁止停车。', speakers: ['s1'] }),
        warner.warn({ eventId: 'e2', text: '请注意，请立即驶离。', speakers: ['s1'] }),
      ]);
      expect([a[0].outcome, b[0].outcome]).toEqual(['played', 'played']);
      await new Promise((r) => setTimeout(r, 400));
      expect(rec.spurts).toHaveLength(2);
      const [first, second] = rec.spurts;
      // The second began only after the first had ended: never two messages at once.
      expect(second.startedAt).toBeGreaterThanOrEqual(first.startedAt + first.wallMs);
      expect(first.durationMs).toBeCloseTo(a[0].durationMs, -2);
      expect(first.dbfs).toBeGreaterThan(-30);
    } finally {
      rec.stop();
    }
  }, 30_000);

  it('reports a failed speaker with its code, and health follows the outcomes', async () => {
    const published: string[] = [];
    const board = new SpeakerHealthBoard(['gone'], 0, (h) => published.push(`${h.state}:${h.code ?? ''}`));
    const spk = new RtpSpeaker('gone', parseRtpUrl('rtp://127.0.0.1:9'));
    const warner = new Warner(new Map([['gone', spk]]), new AudioCache(tempDir('audio-'), { voice: 'cmn', speed: 170 }), systemClock);
    const [o] = await warner.warn({ eventId: 'e', text: '测试', speakers: ['gone'], file: '/nonexistent/clip.wav' });
    expect(o).toMatchObject({ outcome: 'failed', code: 'refused' });
    expect(o.reason).toContain('clip /nonexistent/clip.wav missing');
    board.onOutcome(o);
    board.onOutcome({ ...o, outcome: 'skipped', code: 'quiet_hours' });
    board.onOutcome({ ...o, outcome: 'played', code: null });
    expect(published).toEqual(['failed:refused', 'online:']);
  }, 30_000);
});
