/**
 * Command-line conventions, found wanting by a new user: help and per-command usage exit 0,
 * `status` fails when a speaker is down, `discover` without --user guesses no user name,
 * and `probe` says what an empty snapshot URI means.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import mqtt from 'mqtt';
import { ROOT } from '../../gateway/paths.ts';
import { havePeers } from '../peers/require.ts';
import { startMosquitto, type Mosquitto } from '../peers/mosquitto.ts';
import { FakeOnvifDevice } from '../peers/onvif/device.ts';
import { settingsAt, tempDir } from '../helpers/gateway.ts';
import { statusCommand } from '../../gateway/cli/status.ts';
import { discoverCommand, probeCommand, snippet } from '../../gateway/cli/cameras.ts';
import { parseSettings } from '../../gateway/settings/load.ts';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

const gateway = (...args: string[]) =>
  new Promise<Ran>((ok) =>
    execFile(process.execPath, ['--import', 'tsx', 'gateway/cli.ts', ...args], { cwd: ROOT, timeout: 90_000 }, (e, stdout, stderr) =>
      ok({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );

describe('gateway help and usage', () => {
  // Each run starts node with tsx: a few seconds on a busy machine, so only a handful.
  it('--help and help print the usage and exit 0; COMMAND --help and help COMMAND print that command', async () => {
    const [long, word] = await Promise.all([gateway('--help'), gateway('help')]);
    for (const r of [long, word]) {
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/^usage: gateway <command> \[options\]/);
      expect(r.stdout).toContain('discover [--timeout S]');
    }
    const [statusHelp, helpProbe] = await Promise.all([gateway('status', '--help'), gateway('help', 'probe')]);
    expect(statusHelp.code).toBe(0);
    expect(statusHelp.stdout).toMatch(/^usage: gateway status --config FILE/);
    expect(statusHelp.stdout).toMatch(/1 when the gateway, a camera or a\s+speaker is down/);
    expect(helpProbe.code).toBe(0);
    expect(helpProbe.stdout).toMatch(/^usage: gateway probe URL --user U --password P/);
  }, 120_000);

  it('an unknown command or option is a usage error: exit 2, the message and the usage on stderr', async () => {
    const [cmd, opt] = await Promise.all([gateway('frobnicate'), gateway('status', '--confg', 'x.yaml')]);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toMatch(/^gateway: unknown command "frobnicate"/);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toMatch(/^gateway status: Unknown option '--confg'/);
    expect(opt.stderr).toContain('usage: gateway status --config FILE');
  }, 120_000);
});

describe.runIf(havePeers('mosquitto'))('gateway status against the retained health on a real broker', () => {
  let broker: Mosquitto;
  let pub: mqtt.MqttClient;
  const dir = tempDir('gw-cli-status-');
  const config = () =>
    settingsAt(
      dir,
      `
gateway: { id: gw-st, data_dir: ${dir}/data }
mqtt: { url: '${broker.url}', prefix: st }
cameras:
  - { id: cam-1, url: 'rtsp://127.0.0.1:9/x', location: { lat: 28.77, lon: 118.55 }, speakers: [spk-1, spk-2] }
speakers:
  - { id: spk-1, url: 'rtp://127.0.0.1:40000' }
  - { id: spk-2, url: 'rtp://127.0.0.1:40002' }
`,
    );
  /** Retained, as the gateway leaves them. */
  const health = async (spk1: string, spk2: string) => {
    const at = new Date().toISOString();
    const send = (t: string, p: object) => pub.publishAsync(`st/v1/gateways/gw-st/${t}`, JSON.stringify(p), { retain: true, qos: 1 });
    await send('status', { state: 'online', version: '0.1.0', at });
    await send('cameras/cam-1/health', { state: 'online', frames_per_minute: 60, last_frame_at: at, restarts: 0, dropped: 0 });
    await send('speakers/spk-1/health', { state: spk1, last_outcome: spk1 === 'failed' ? 'failed' : 'played', reason: null });
    await send('speakers/spk-2/health', {
      state: spk2,
      last_outcome: spk2 === 'failed' ? 'failed' : 'played',
      reason: spk2 === 'failed' ? 'refused: connection refused' : null,
    });
  };

  beforeAll(async () => {
    broker = await startMosquitto();
    pub = await mqtt.connectAsync(broker.url);
  });

  afterAll(async () => {
    await pub?.endAsync();
    await broker?.stop();
  });

  it('exits 0 when the gateway, its cameras and its speakers are well', async () => {
    await health('online', 'unknown');
    const lines: string[] = [];
    expect(await statusCommand(config(), (l) => lines.push(l), 800)).toBe(0);
    expect(lines.join('\n')).toMatch(/spk-2\s+unknown/);
  });

  it('exits 1 when a speaker is down, and prints why', async () => {
    await health('online', 'failed');
    const lines: string[] = [];
    expect(await statusCommand(config(), (l) => lines.push(l), 800)).toBe(1);
    expect(lines.join('\n')).toMatch(/spk-2\s+failed\s+last failed\s+refused: connection refused/);
  });
});

describe('discover and probe output', () => {
  it('a snippet without a user name writes no username (a guessed "admin" looks like a fact); it still parses', () => {
    const text = snippet('cam-01', 'onvif://192.0.2.10', undefined, 'gate');
    expect(text).not.toMatch(/^\s*username:/m);
    expect(text).not.toContain('admin');
    expect(text).toContain('# username: USER');
    const s = parseSettings(`cameras:\n${text}\n`, '/tmp/snippet.yaml').settings;
    expect(s.cameras[0]).toMatchObject({ id: 'cam-01', url: 'onvif://192.0.2.10' });
    expect(s.cameras[0].username).toBeUndefined();
    expect(snippet('cam-01', 'onvif://192.0.2.10', 'operator')).toMatch(/username: operator\n\s+password: \$\{CAM_01_PASSWORD\}/);
  });

  describe('with a fake ONVIF camera (no real one installs in CI)', () => {
    let plain: FakeOnvifDevice;
    beforeAll(async () => {
      plain = await new FakeOnvifDevice({ snapshot: false, discovery: { interfaces: ['127.0.0.1'] } }).start();
    });
    afterAll(async () => {
      await plain?.stop();
    });

    it('discover without --user: the camera is listed and its snippet has no username', async () => {
      const lines: string[] = [];
      expect(await discoverCommand({ timeoutS: 2 }, (l) => lines.push(l))).toBe(0);
      const text = lines.join('\n');
      expect(text).toContain(`onvif://127.0.0.1:${plain.port}`);
      expect(text).not.toMatch(/username: admin/);
      expect(text).toContain("add --user U --password P to list each camera's profiles");
    });

    it('probe of a camera with an empty snapshot URI says so, and where evidence stills come from', async () => {
      const lines: string[] = [];
      expect(await probeCommand(`onvif://127.0.0.1:${plain.port}`, { user: 'admin', password: 'Passw0rd!' }, (l) => lines.push(l))).toBe(0);
      expect(lines).toContain('    snapshot: none (the camera gives an empty snapshot URI; evidence stills come from the main stream)');
    });
  });
});
