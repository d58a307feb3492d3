/**
 * `gateway speaker test ID [--text ...] [--firm] --config FILE`: plays one message on one
 * speaker now, with the same drivers, speech engine, cache and gain as the daemon, and
 * says what happened in words a technician can act on. Exit 0 when it played.
 */
import { join } from 'node:path';
import type { LoadedSettings } from './settings/load.ts';
import { createSpeaker } from '../devices/registry.ts';
import type { SpeakerDriver } from '../devices/speakers/types.ts';
import { AudioCache } from './alert/audio.ts';
import { Warner } from './alert/warner.ts';
import { chooseTts } from './alert/tts.ts';
import { render } from './alert/messages.ts';
import { CATALOGUE } from './rules/catalogue.ts';
import { systemClock } from './clock.ts';

const HINT: Record<string, string> = {
  auth: 'check username/password (SIP registrar, camera account)',
  refused: 'the device is up but nothing listens on that port: check the port and that the speaker service is on',
  unreachable: 'no route to the device: check the address, cable and power',
  timeout: 'the device did not answer in time: check the address, a firewall, or (SIP) that auto-answer is on',
  busy: 'the speaker is in use by someone else; try again',
  not_found: 'the device does not know that extension, channel or path',
  unsupported: 'the device refused the codec or feature: try codec: pcmu / pcma',
};

export async function speakerTest(
  config: LoadedSettings,
  id: string,
  o: { text?: string; firm?: boolean },
  print: (line: string) => void,
): Promise<number> {
  const s = config.settings;
  const sp = s.speakers.find((x) => x.id === id);
  if (!sp) {
    print(`no speaker "${id}" in ${config.file ?? 'the settings'} (have: ${s.speakers.map((x) => x.id).join(', ') || 'none'})`);
    return 2;
  }
  let driver: SpeakerDriver & { probe?: (signal?: AbortSignal) => Promise<unknown> };
  try {
    driver = createSpeaker({ id: sp.id, url: sp.url, codec: sp.codec, username: sp.username, password: sp.password });
  } catch (e) {
    print(`${id}: cannot use ${sp.url.replace(/\/\/[^@/]*@/, '//***@')}: ${(e as Error).message}`);
    return 1;
  }
  print(`speaker ${id}${sp.name ? ` (${sp.name})` : ''}: ${sp.url.replace(/\/\/[^@/]*@/, '//***@')}, ${sp.codec}, gain ${sp.gain_db} dB`);
  if (driver.probe) {
    const probed = await driver.probe(AbortSignal.timeout(10_000)).then(
      (r) => `answers (${String(r)})`,
      (e: Error) => `probe failed: ${e.message}`,
    );
    print(`probe: ${probed}`);
  }
  const tts = await chooseTts(s.warnings, config.resolvePath, (r) => print(`speech: ${r}`));
  if (tts.fallback) print(`speech: ${tts.fallback}`);
  const cam = s.cameras.find((c) => c.speakers.includes(id));
  const vars = {
    place: cam?.place ?? cam?.name ?? '',
    camera: cam?.name ?? cam?.id ?? '',
    zone: '',
    type_zh: CATALOGUE.illegal_parking.zh,
  };
  const text = o.text ?? render(o.firm ? CATALOGUE.illegal_parking.firm : CATALOGUE.illegal_parking.message, vars);
  const warner = new Warner(
    new Map([[id, driver]]),
    new AudioCache(join(config.resolvePath(s.gateway.data_dir), 'audio'), tts.engine),
    systemClock,
    new Map([[id, sp.gain_db]]),
  );
  print(`playing: ${text}`);
  const t0 = performance.now();
  const [r] = await warner.warn({ eventId: null, text, speakers: [id] });
  await driver.close();
  const took = ((performance.now() - t0) / 1000).toFixed(1);
  if (r.outcome === 'played') {
    print(`played: ${(r.durationMs / 1000).toFixed(1)} s of audio in ${took} s (${r.reason ?? 'ok'})`);
    return 0;
  }
  print(`FAILED (${r.code}): ${r.reason}`);
  if (r.code && HINT[r.code]) print(`hint: ${HINT[r.code]}`);
  return 1;
}
