/** `gateway run`: load settings, start, and stop cleanly on SIGINT/SIGTERM. */
import { loadSettings, ConfigError } from './settings/load.ts';
import { createLogger } from './log.ts';
import { Gateway } from './controller.ts';
import { watchGateway, type Watchdog } from './fleet/watchdog.ts';

export async function runGateway(file: string): Promise<void> {
  let config;
  try {
    // A model that cannot load fails only its cameras; the rest of the box runs.
    config = loadSettings(file, process.env, { contain: true, requireCameras: true });
  } catch (e) {
    process.stderr.write(`${e instanceof ConfigError ? e.message : (e as Error).message}\n`);
    process.exit(1);
  }
  const log = createLogger(config.settings.gateway.log_level);
  for (const w of config.warnings ?? []) log.warn(`${w} (its cameras are marked detector failed; the others run)`);
  const gw = new Gateway({ config, log });
  let stopping = false;
  let dog: Watchdog | null = null;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'stopping');
    dog?.stop();
    const force = setTimeout(() => process.exit(1), 10_000);
    await gw.stop().catch((e: Error) => log.error({ err: e }, 'stop failed'));
    clearTimeout(force);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  try {
    await gw.start();
    // Under systemd (Type=notify): READY=1 now, WATCHDOG=1 while the pipeline is alive.
    dog = watchGateway(gw, log);
  } catch (e) {
    log.fatal({ err: e }, 'gateway could not start');
    await gw.stop().catch(() => undefined);
    process.exit(1);
  }
}
