import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceError } from '../../devices/errors.ts';
import { DigestSession, digestRequest } from '../../devices/http/digest.ts';
import { digestAuthorization, parseChallenges, pickChallenge, type Challenge } from '../../devices/http/challenge.ts';
import { DigestGate, type DigestGateOptions } from '../peers/hikvision.ts';

const responseOf = (header: string) => parseChallenges([header])[0].params.response;

describe('digest arithmetic', () => {
  // RFC 7616 section 3.9.1: the same request answered with MD5 and with SHA-256.
  const rfc7616 = (algorithm: string): Challenge => ({
    scheme: 'digest',
    params: {
      realm: 'http-auth@example.org',
      qop: 'auth, auth-int',
      algorithm,
      nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
      opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
    },
  });
  const common = { user: 'Mufasa', password: 'Circle of Life', method: 'GET', uri: '/dir/index.html', nc: 1 };
  const cnonce = 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';

  it('matches the RFC 7616 MD5 and SHA-256 examples', () => {
    const md5 = digestAuthorization({ ...common, cnonce, challenge: rfc7616('MD5') });
    expect(responseOf(md5)).toBe('8ca523f5e9506fed4657c9700eebdbec');
    const sha = digestAuthorization({ ...common, cnonce, challenge: rfc7616('SHA-256') });
    expect(responseOf(sha)).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    expect(sha).toContain('qop=auth, nc=00000001');
    expect(sha).toContain('opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"');
  });

  it('matches the RFC 2617 example', () => {
    const challenge: Challenge = {
      scheme: 'digest',
      params: { realm: 'testrealm@host.com', qop: 'auth,auth-int', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093' },
    };
    const header = digestAuthorization({ ...common, password: 'Circle Of Life', challenge, cnonce: '0a4f113b' });
    expect(responseOf(header)).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('reads several challenges, quoted commas and escapes, and picks the strongest', () => {
    const list = parseChallenges([
      'Digest realm="a, b", qop="auth", nonce="x\\"y", algorithm=MD5, Basic realm="z"',
      'Digest realm="c", qop="auth", nonce="n2", algorithm=SHA-256, stale=TRUE',
    ]);
    expect(list.map((c) => c.scheme)).toEqual(['digest', 'basic', 'digest']);
    expect(list[0].params).toMatchObject({ realm: 'a, b', nonce: 'x"y', algorithm: 'MD5' });
    expect(list[2].params.stale).toBe('TRUE');
    expect(pickChallenge(list)?.params.realm).toBe('c');
    expect(pickChallenge(list.slice(0, 2))?.scheme).toBe('digest');
    // qop=auth-int alone cannot be answered for a streamed body: Basic wins.
    expect(pickChallenge(parseChallenges(['Digest realm="r", nonce="n", qop="auth-int", Basic realm="r"']))?.scheme).toBe('basic');
  });
});

describe('digestRequest against a Digest server', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? (server.closeAllConnections(), server.close(() => r())) : r())));

  /** A server guarded by the fakes' DigestGate that logs each exchange and its body size. */
  async function start(gate: Partial<DigestGateOptions> = {}, answer: (res: http.ServerResponse) => void = (res) => void res.end('hello')) {
    const g = new DigestGate({ user: 'admin', password: 'secret', realm: 'test', ...gate });
    const log: { auth: boolean; bodyBytes: number; contentLength?: string }[] = [];
    server = http.createServer((req, res) => {
      let bodyBytes = 0;
      req.on('data', (c: Buffer) => (bodyBytes += c.length));
      req.on('end', () => {
        const verdict = g.check(req.method ?? '', req.url ?? '', req.headers.authorization);
        log.push({ auth: verdict === 'ok', bodyBytes, contentLength: req.headers['content-length'] });
        if (verdict !== 'ok') return res.writeHead(401, { 'www-authenticate': g.challenges(verdict === 'stale') }).end();
        answer(res);
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/x?y=1`, log };
  }

  it('answers the challenge, then reuses it from the session with nc counting on', async () => {
    const { url, log } = await start();
    const session = new DigestSession();
    const first = await digestRequest({ url, user: 'admin', password: 'secret', session });
    expect(first.status).toBe(200);
    expect(first.body.toString()).toBe('hello');
    const second = await digestRequest({ url, user: 'admin', password: 'secret', session });
    expect(second.status).toBe(200);
    // 401 + 200, then one preemptive request; the gate refuses an nc that does not count up.
    expect(log.map((l) => l.auth)).toEqual([false, true, true]);
  });

  it('prefers SHA-256 when offered and retries once on stale=true', async () => {
    const { url, log } = await start({ algorithm: 'SHA-256', nonceTtlMs: 50 });
    const session = new DigestSession();
    await digestRequest({ url, user: 'admin', password: 'secret', session });
    await new Promise((r) => setTimeout(r, 80));
    const res = await digestRequest({ url, user: 'admin', password: 'secret', session });
    expect(res.status).toBe(200);
    expect(log.map((l) => l.auth)).toEqual([false, true, false, true]);
  });

  it('speaks Basic when that is all the server offers', async () => {
    const { url } = await start({ schemes: ['basic'] });
    expect((await digestRequest({ url, user: 'admin', password: 'secret' })).status).toBe(200);
    await expect(digestRequest({ url, user: 'admin', password: 'nope' })).rejects.toMatchObject({ code: 'auth' });
  });

  it('reports a wrong password, or no credentials, as auth', async () => {
    const { url } = await start();
    const err = await digestRequest({ url, user: 'admin', password: 'wrong' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceError);
    expect(err).toMatchObject({ code: 'auth' });
    await expect(digestRequest({ url })).rejects.toMatchObject({ code: 'auth' });
  });

  it('learns the challenge from an empty probe and sends a stream exactly once', async () => {
    const { url, log } = await start();
    let iterations = 0;
    async function* body() {
      iterations++;
      for (let i = 0; i < 10; i++) yield Buffer.alloc(100, i);
    }
    const res = await digestRequest({
      url,
      method: 'PUT',
      user: 'admin',
      password: 'secret',
      body: body(),
      headers: { 'Content-Length': '1000' },
    });
    expect(res).toMatchObject({ status: 200, sentBytes: 1000 });
    expect(iterations).toBe(1);
    expect(log).toEqual([
      { auth: false, bodyBytes: 0, contentLength: '0' },
      { auth: true, bodyBytes: 1000, contentLength: '1000' },
    ]);
  });

  it('settles a streamed upload nobody answers after answerGraceMs with status 0', async () => {
    const { url } = await start({}, () => undefined);
    const res = await digestRequest({
      url,
      method: 'PUT',
      user: 'admin',
      password: 'secret',
      body: (async function* () {
        yield Buffer.alloc(10);
      })(),
      answerGraceMs: 100,
    });
    expect(res).toMatchObject({ status: 0, sentBytes: 10 });
  });

  it('maps refused, silent and aborted exchanges', async () => {
    const { url } = await start({}, () => undefined);
    const port = Number(new URL(url).port);
    await new Promise<void>((r) => (server!.closeAllConnections(), server!.close(() => r())));
    server = undefined;
    await expect(digestRequest({ url: `http://127.0.0.1:${port}/` })).rejects.toMatchObject({ code: 'refused' });

    const silent = await start({}, () => undefined);
    await expect(digestRequest({ url: silent.url, user: 'admin', password: 'secret', timeoutMs: 200 })).rejects.toMatchObject({
      code: 'timeout',
    });

    const ac = new AbortController();
    const forever = (async function* () {
      for (;;) yield await new Promise<Buffer>((r) => setTimeout(() => r(Buffer.alloc(10)), 10));
    })();
    setTimeout(() => ac.abort(), 100);
    await expect(
      digestRequest({ url: silent.url, method: 'PUT', user: 'admin', password: 'secret', body: forever, signal: ac.signal }),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});
