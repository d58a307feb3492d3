/**
 * The speakers part of the daemon: one driver per configured speaker, the speech engine
 * (sherpa-onnx when it can run, espeak-ng otherwise), the audio cache, the warner, and
 * speaker health, published retained and refreshed by probes where a protocol has one
 * (SIP OPTIONS, RTSP DESCRIBE, ISAPI channel read).
 */
import { join } from 'node:path';
import type { Context } from '../context.ts';
import { createSpeaker } from '../../devices/registry.ts';
import type { SpeakerDriver } from '../../devices/speakers/types.ts';
import { isDeviceError } from '../../devices/errors.ts';
import { AudioCache } from './audio.ts';
import { Warner } from './warner.ts';
import { chooseTts } from './tts.ts';
import { SpeakerHealthBoard, speakerHealthPayload } from './health.ts';

type Probeable = SpeakerDriver & { probe?: (signal?: AbortSignal) => Promise<unknown> };

export interface Speakers {
  drivers: Map<string, SpeakerDriver>;
  warner: Warner;
  health: SpeakerHealthBoard;
  stop(): Promise<void>;
}

export async function startSpeakers(ctx: Context): Promise<Speakers> {
  const { log, clock, config } = ctx;
  const s = config.settings;
  const drivers = new Map<string, SpeakerDriver>();
  const health = new SpeakerHealthBoard(
    s.speakers.map((sp) => sp.id),
    clock.now(),
    (h) =>
      ctx.uplink.publishRetained(
        ctx.topics.speakerHealth(h.speaker),
        JSON.stringify(speakerHealthPayload(s.gateway.id, h, s.speakers.find((x) => x.id === h.speaker)?.name)),
      ),
  );
  for (const sp of s.speakers) {
    try {
      drivers.set(sp.id, createSpeaker({ id: sp.id, url: sp.url, codec: sp.codec, username: sp.username, password: sp.password }));
    } catch (e) {
      log.error({ speaker: sp.id, err: e }, 'speaker unusable');
      health.onProbe(sp.id, false, isDeviceError(e) ? e.code : 'unsupported', (e as Error).message, clock.now());
    }
  }
  const tts = await chooseTts(s.warnings, config.resolvePath, (reason) => log.warn({ reason }, 'speech engine fell back to espeak-ng'));
  if (tts.fallback) log.warn({ reason: tts.fallback }, 'speech: espeak-ng instead of sherpa-onnx');
  else log.info({ engine: tts.engine.key.split(':')[0] }, 'speech engine ready');
  const audio = new AudioCache(join(ctx.dataDir, 'audio'), tts.engine);
  const warner = new Warner(drivers, audio, clock, new Map(s.speakers.map((sp) => [sp.id, sp.gain_db])));
  warner.log = log;
  const onOutcome = (o: Parameters<SpeakerHealthBoard['onOutcome']>[0]) => health.onOutcome(o);
  ctx.bus.on('warning.outcome', onOutcome);
  health.publishAll();

  const stop = new AbortController();
  const probeAll = async () => {
    for (const [id, d] of drivers as Map<string, Probeable>) {
      if (!d.probe || stop.signal.aborted) continue;
      try {
        await d.probe(AbortSignal.any([stop.signal, AbortSignal.timeout(10_000)]));
        // A probe only shows the device answers; it never clears a failure a real message had.
        const h = health.get(id);
        if (h?.state !== 'failed' || h.lastOutcome !== 'failed') health.onProbe(id, true, null, 'answers probes', clock.now());
      } catch (e) {
        if (!stop.signal.aborted) health.onProbe(id, false, isDeviceError(e) ? e.code : 'unreachable', (e as Error).message, clock.now());
      }
    }
  };
  const every = s.warnings.health_check_s * 1000;
  let timer: NodeJS.Timeout | undefined;
  if (every > 0) {
    void probeAll();
    timer = setInterval(() => void probeAll(), every);
    timer.unref();
  }
  return {
    drivers,
    warner,
    health,
    stop: async () => {
      stop.abort();
      clearInterval(timer);
      ctx.bus.off('warning.outcome', onOutcome);
      await Promise.all([...drivers.values()].map((d) => d.close().catch(() => undefined)));
    },
  };
}
