/**
 * The SIP speaker driver against real SIP peers: baresip auto-answers and decodes what it
 * hears into a WAV; SIPp plays a registrar that challenges, a speaker that refuses, and a
 * speaker that rings for ever. Every played call is checked by the audio that arrived.
 */
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { havePeers } from '../peers/require.ts';
import { startBaresip } from '../peers/baresip.ts';
import { startSipp } from '../peers/sipp.ts';
import { SipSpeaker } from '../../devices/speakers/sip/driver.ts';
import { parseMessage, parseNameAddr, parseSipUri, parseVia, writeMessage, Headers } from '../../devices/speakers/sip/message.ts';
import { RtpRecorder } from '../../scripts/sim/rtp-speaker.ts';
import { dbfs, tone } from '../helpers/audio.ts';

const ok = havePeers('baresip', 'sipp');
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('SIP message parser', () => {
  it('reads compact forms, folded lines, repeated and comma-joined headers, and cuts the body at Content-Length', () => {
    const raw = [
      'SIP/2.0 200 OK',
      'v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa;rport=5060, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb',
      'Via: SIP/2.0/UDP 10.0.0.3:5070;branch=z9hG4bKc',
      'f: "Gate, East" <sip:gw@10.0.0.9>;tag=123',
      't: <sip:8001@10.0.0.1>',
      '  ;tag=abc',
      'i: x1@host',
      'CSeq: 2 INVITE',
      'm: <sip:8001@10.0.0.1:5062;transport=udp>',
      'c: application/sdp',
      'l: 4',
      '',
      'v=0\r\nEXTRA',
    ].join('\r\n');
    const m = parseMessage(Buffer.from(raw));
    expect(m.status).toBe(200);
    expect(m.headers.all('Via')).toHaveLength(3);
    expect(parseVia(m.headers.all('Via')[0]).params).toMatchObject({ branch: 'z9hG4bKa', rport: '5060' });
    expect(parseVia(m.headers.all('Via')[2])).toMatchObject({ host: '10.0.0.3', port: 5070 });
    expect(parseNameAddr(m.headers.get('From')!)).toEqual({ display: 'Gate, East', uri: 'sip:gw@10.0.0.9', params: { tag: '123' } });
    expect(parseNameAddr(m.headers.get('to')!).params.tag).toBe('abc');
    expect(m.headers.get('Call-ID')).toBe('x1@host');
    expect(m.headers.get('Content-Type')).toBe('application/sdp');
    expect(m.body.toString()).toBe('v=0\r');
    expect(parseSipUri('sip:8001:pw@192.168.1.50:5062;transport=udp')).toEqual({
      user: '8001',
      password: 'pw',
      host: '192.168.1.50',
      port: 5062,
      params: { transport: 'udp' },
    });
    const out = writeMessage({ method: 'BYE', uri: 'sip:a@b', headers: new Headers([['i', 'x']]), body: Buffer.alloc(0) }).toString();
    expect(out).toBe('BYE sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n');
    expect(() => parseMessage(Buffer.from('HELLO\r\n\r\n'))).toThrow(/start line/);
  });
});

describe.runIf(ok)('SIP speaker against real peers', () => {
  it('calls baresip (auto-answer), streams 2 s of G.711 at real-time pace, hangs up; baresip decoded the tone', async () => {
    const bs = await startBaresip();
    cleanup.push(bs.stop);
    const speaker = new SipSpeaker(bs.url, { codec: 'pcma' });
    expect(await speaker.probe()).toBe('SIP 200 OK');
    const t0 = performance.now();
    const r = await speaker.play(tone('pcma', 2));
    expect(performance.now() - t0).toBeGreaterThan(1900);
    expect(r.bytes).toBe(16000);
    expect(r.detail).toMatch(/BYE 200/);
    await new Promise((res) => setTimeout(res, 300));
    const [heard] = bs.received();
    // baresip's player starts a few frames late and stops at BYE: allow 300 ms either way.
    expect(heard.length / 8000).toBeGreaterThan(1.7);
    expect(heard.length / 8000).toBeLessThan(2.3);
    expect(dbfs(heard)).toBeGreaterThan(-20); // a -9 dBFS tone, not silence
    expect(bs.log()).toMatch(/terminated/);
  });

  it('answers a registrar Digest challenge (qop=auth), sends µ-law when the answer asks, to the answered address', async () => {
    const rec = new RtpRecorder({ port: 0, gapMs: 300 });
    await rec.start();
    cleanup.push(() => rec.stop());
    const sipp = await startSipp('uas-auth', { rtp_host: '127.0.0.1', rtp_port: String(rec.port) });
    cleanup.push(sipp.stop);
    const r = await new SipSpeaker(sipp.url, { username: 'gateway', password: 's3cret', codec: 'pcma' }).play(tone('pcma', 1));
    expect(r.detail).toMatch(/sip pcmu to 127\.0\.0\.1/);
    const spurt = await rec.next(3000);
    expect(spurt.codec).toBe('pcmu');
    expect(spurt.durationMs).toBe(1000);
    expect(spurt.lost).toBe(0);
    expect(spurt.dbfs).toBeGreaterThan(-20);
    expect(spurt.wallMs).toBeGreaterThan(850); // paced, not a burst
    expect((await sipp.done).code).toBe(0); // verifyauth passed, BYE answered
  });

  it('maps a refused password to auth after one retry, and a missing password to auth at once', async () => {
    const sipp = await startSipp('uas-auth', { rtp_host: '127.0.0.1', rtp_port: '9' });
    cleanup.push(sipp.stop);
    await expect(new SipSpeaker(sipp.url, { username: 'gateway', password: 'wrong' }).play(tone('pcma', 0.2))).rejects.toMatchObject({
      code: 'auth',
      message: expect.stringContaining('credentials refused'),
    });
    expect((await sipp.done).code).toBe(0);
    const again = await startSipp('uas-auth', { rtp_host: '127.0.0.1', rtp_port: '9' });
    cleanup.push(again.stop);
    await expect(new SipSpeaker(again.url).play(tone('pcma', 0.2))).rejects.toMatchObject({
      code: 'auth',
      message: expect.stringContaining('none are configured'),
    });
  });

  it.each([
    ['486', 'Busy Here', 'busy'],
    ['404', 'Not Found', 'not_found'],
    ['488', 'Not Acceptable Here', 'unsupported'],
    ['603', 'Decline', 'rejected'],
  ])('maps SIP %s %s to %s and ACKs it', async (status, reason, code) => {
    const sipp = await startSipp('uas-status', {}, { status, reason });
    cleanup.push(sipp.stop);
    await expect(new SipSpeaker(sipp.url).play(tone('pcma', 0.2))).rejects.toMatchObject({
      code,
      message: expect.stringContaining(`SIP ${status}`),
    });
    expect((await sipp.done).code).toBe(0); // the ACK arrived
  });

  it('CANCELs a call that rings without answer, and on abort', async () => {
    const sipp = await startSipp('uas-ring');
    cleanup.push(sipp.stop);
    await expect(new SipSpeaker(sipp.url, { ringMs: 800 }).play(tone('pcma', 0.2))).rejects.toMatchObject({
      code: 'timeout',
      message: expect.stringContaining('no answer'),
    });
    expect((await sipp.done).code).toBe(0); // CANCEL, 487, ACK
    const again = await startSipp('uas-ring');
    cleanup.push(again.stop);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 500);
    await expect(new SipSpeaker(again.url).play(tone('pcma', 0.2), ac.signal)).rejects.toMatchObject({ name: 'AbortError' });
    expect((await again.done).code).toBe(0);
  });

  it('maps a closed port to refused and a silent host to timeout', async () => {
    const hole = createSocket('udp4');
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    const port = hole.address().port;
    cleanup.push(() => hole.close());
    const t0 = performance.now();
    await expect(new SipSpeaker(`sip:8001@127.0.0.1:${port}`, { noAnswerMs: 1500 }).play(tone('pcma', 0.2))).rejects.toMatchObject({
      code: 'timeout',
    });
    expect(performance.now() - t0).toBeGreaterThan(1400);
    hole.close();
    cleanup.pop();
    await expect(new SipSpeaker(`sip:8001@127.0.0.1:${port}`).play(tone('pcma', 0.2))).rejects.toMatchObject({ code: 'refused' });
  });
});
