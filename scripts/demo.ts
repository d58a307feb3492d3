/**
 * `npm start`: the whole gateway on config/demo.yaml, on one machine, with nothing to
 * install beyond `npm run setup`: model weights and sample images fetched (checked by
 * SHA-256), scenario videos generated from them, two recording speakers, simulated
 * officers' phones, a simulated central platform, and the embedded MQTT broker.
 * Watch with: mosquitto_sub -h 127.0.0.1 -t '#' -v
 *
 * The escalated event goes to 王 (nearest), who declines; then to 李, who accepts, goes
 * there, arrives and closes it. The platform then asks for the statistics.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ROOT, filesDir, mirrorDir } from '../gateway/paths.ts';
import { fetchAll } from '../gateway/assets/fetch.ts';
import { ensureScenario } from './scenario.ts';
import { RtpRecorder } from './sim/rtp-speaker.ts';
import { OfficerSim } from './sim/officers.ts';
import { PlatformSim, describe } from './sim/platform.ts';
import { loadSettings } from '../gateway/settings/load.ts';
import { createLogger } from '../gateway/log.ts';
import { Gateway } from '../gateway/controller.ts';

const log = createLogger('info', process.env.GATEWAY_LOG_FORMAT ?? 'pretty');

for (const cmd of ['ffmpeg', 'espeak-ng']) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    log.fatal(`${cmd} is not installed: run \`npm run setup\` first (it installs ffmpeg and espeak-ng)`);
    process.exit(1);
  }
}

const mirror = mirrorDir() ?? (existsSync(resolve(ROOT, '../shared/mirror')) ? resolve(ROOT, '../shared/mirror') : undefined);
for (const r of await fetchAll({ dir: filesDir(), mirror })) if (r.status !== 'present') log.info(`fetched ${r.file} (${r.status})`);

const configFile = process.env.GATEWAY_CONFIG ?? join(ROOT, 'config', 'demo.yaml');
for (const name of ['parking-stay', 'parking-leave']) {
  const p = await ensureScenario(name, { out: join(ROOT, 'data', 'scenarios') });
  log.info(`scenario video ready: ${p}`);
}

const config = loadSettings(configFile);
// Every demo run tells the whole story again: events left open by an earlier run would
// otherwise hold the plaza (its spot is taken). The synthesised audio cache is kept.
if (!process.env.GATEWAY_CONFIG) {
  const dataDir = config.resolvePath(config.settings.gateway.data_dir);
  for (const f of ['gateway.db', 'gateway.db-wal', 'gateway.db-shm', 'evidence', 'speakers'])
    rmSync(join(dataDir, f), { recursive: true, force: true });
}
const speakers: RtpRecorder[] = [];
for (const sp of config.settings.speakers) {
  const u = new URL(sp.url);
  if (u.protocol !== 'rtp:' || u.hostname !== '127.0.0.1') continue;
  const rec = new RtpRecorder({ port: Number(u.port), dir: join(ROOT, 'data', 'demo', 'speakers', sp.id) });
  await rec.start();
  rec.on('talkspurt', (t) =>
    log.info(`🔊 demo speaker ${sp.id} played ${(t.durationMs / 1000).toFixed(1)} s at ${t.dbfs.toFixed(0)} dBFS → ${t.file}`),
  );
  speakers.push(rec);
}

const gw = new Gateway({ config, log });
await gw.start();

const s = config.settings;
const broker = s.mqtt.url ?? `mqtt://${s.mqtt.embedded.host}:${s.mqtt.embedded.port}`;
const officers = new OfficerSim({
  broker,
  prefix: s.mqtt.prefix,
  officers: [
    { id: 'off-wang', lat: 28.7731, lon: 118.5583, behaviour: 'decline', declineReason: '正在处理另一起占道经营' },
    { id: 'off-li', lat: 28.7745, lon: 118.5601, behaviour: 'accept' },
    { id: 'off-zhao', lat: 28.7402, lon: 118.5203, behaviour: 'accept' },
  ],
  walk: false,
  everyMs: 10_000,
  speedMps: 20,
  workS: 10,
  onDispatch: (o, d) =>
    log.info(
      `📱 ${o}'s phone: dispatch ${d.state}${d.state === 'offered' ? `: ${d.summary} (${d.distance_m} m away, answer by ${new Date(String(d.answer_by)).toLocaleTimeString('en-GB')})` : ''}`,
    ),
  onAction: (o, a, d) => log.info(`📱 ${o} answers ${a}${d.reason ? `: ${d.reason}` : ''}`),
});
await officers.start();

// The township platform: prints what it hears, and asks for statistics once a matter is closed.
const platform = new PlatformSim({
  broker,
  prefix: s.mqtt.prefix,
  protocolVersion: s.mqtt.url ? s.mqtt.protocol_version : 4,
  print: () => undefined,
});
await platform.start();
platform.client.on('message', (topic, payload) => {
  let m: Record<string, any>;
  try {
    m = JSON.parse(payload.toString());
  } catch {
    return;
  }
  if (/\/(events|state|dispatches|alerts)$/.test(topic)) log.info(`🖥  platform: ${describe(topic, m).trim()}`);
  if (topic.endsWith('/state') && m.to === 'closed') {
    void platform.request(s.gateway.id, 'stats', {}).then(
      (r) => {
        const st = r.data;
        log.info(
          `🖥  platform: stats command → ${st.events.total} events, settled by warning alone: ${st.settled_by_warning.share === null ? 'n/a' : `${Math.round(st.settled_by_warning.share * 100)}%`} (${st.settled_by_warning.resolved} of ${st.settled_by_warning.decided}); dispatch→accept median ${st.durations.dispatch_to_accept.median_s} s, accept→closed median ${st.durations.accept_to_closed.median_s} s`,
        );
      },
      (e: Error) => log.warn(`platform: ${e.message}`),
    );
  }
});

if (gw.http && s.console.enabled)
  log.info(
    `🖥  console: ${gw.http.base}/console/ ${
      process.env.GATEWAY_CONFIG
        ? '(first login: the admin password printed above on the first start; users in the console users file)'
        : '(log in as admin / admin-demo; operator / operator-demo and viewer / viewer-demo see less; users in config/demo-users.json)'
    }`,
  );
log.info(
  'demo running: a taxi parks on each plaza; events confirm after 15 s, warnings play, rechecks follow 20 s later; the one that stays is dispatched. Ctrl-C to stop.',
);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await officers.stop().catch(() => undefined);
  await platform.stop().catch(() => undefined);
  await gw.stop();
  for (const r of speakers) r.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
