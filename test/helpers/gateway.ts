/** Runs a real Gateway in the test process on a settings text written to a temp folder. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSettings, type LoadedSettings } from '../../gateway/settings/load.ts';
import { Gateway, type GatewayOptions } from '../../gateway/controller.ts';
import { createLogger, silentLogger } from '../../gateway/log.ts';

export function tempDir(prefix = 'gw-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function settingsAt(dir: string, yaml: string): LoadedSettings {
  const file = join(dir, 'settings.yaml');
  writeFileSync(file, yaml);
  return parseSettings(yaml, file);
}

/** `extra`: more of the Gateway's options (e.g. onDetections). */
export async function startGateway(config: LoadedSettings, extra: Omit<GatewayOptions, 'config' | 'log'> = {}): Promise<Gateway> {
  const log = process.env.TEST_LOG ? createLogger(process.env.TEST_LOG, 'pretty') : silentLogger();
  const gw = new Gateway({ ...extra, config, log });
  await gw.start();
  return gw;
}
