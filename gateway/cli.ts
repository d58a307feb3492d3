/**
 * gateway run     --config FILE          start the gateway
 * gateway check   --config FILE          validate the settings and exit (non-zero on error)
 * gateway models fetch [--mirror DIR]    fetch model weights and sample images, check SHA-256
 * gateway models list                    what is there and whether it verifies
 * gateway schema                         print the settings JSON Schema
 * gateway speaker test ID [--text T]     play a message on one speaker now and say what happened
 * gateway discover [--timeout S]         find ONVIF cameras on the LAN, print a settings snippet
 * gateway probe URL --user U --password P one camera's profiles and stream URIs
 * gateway status --config FILE           camera and speaker health of a running gateway
 * gateway stats --config FILE            settled-by-warning share, stage times, counts
 * gateway plan --cameras N [--interval S] [--model M]   boxes needed, from the benchmark figures
 */
import { parseArgs } from 'node:util';
import { writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { loadSettings, ConfigError } from './settings/load.ts';
import { SettingsSchema } from './settings/schema.ts';
import { createLogger } from './log.ts';
import { fetchAll, listAssets, verify, AssetError } from './assets/fetch.ts';
import { filesDir, mirrorDir } from './paths.ts';

const HELP = `usage: gateway <command> [options]

  run --config FILE               start the gateway on a settings file
  check --config FILE             validate a settings file without starting
  models fetch [--mirror DIR]     fetch model weights and sample images (GATEWAY_MIRROR)
  models list                     list the files and whether they verify
  schema [--out FILE]             print (or write) the settings JSON Schema
  speaker test ID --config FILE [--text T] [--firm]
                                  play a warning on one speaker now and report what happened
  discover [--timeout S] [--user U --password P]
                                  find ONVIF cameras on every IPv4 interface; print a snippet
  probe URL --user U --password P one camera's maker, profiles, stream and snapshot URIs
  status --config FILE            what a running gateway reports (retained MQTT health)
  stats --config FILE [--since T] [--until T] [--json]
                                  settled-by-warning share, stage times and counts, from
                                  this box's event history
  plan --cameras N [--interval S] [--model M]
                                  boxes of this machine type N cameras need (interval_s,
                                  default 1; model yolox_nano or nanodet_m), and how

Environment: GATEWAY_MIRROR (local mirror folder), GATEWAY_MODELS_DIR (where weights go),
GATEWAY_LOG_FORMAT=json|pretty.`;

function fail(msg: string, code = 1): never {
  // Synchronous: process.exit must not cut a message written to a pipe.
  writeSync(2, `${msg}\n`);
  process.exit(code);
}

function settingsOrFail(file: string) {
  try {
    return loadSettings(file);
  } catch (e) {
    return fail(e instanceof ConfigError ? e.message : `${file}: ${(e as Error).message}`);
  }
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      mirror: { type: 'string' },
      dir: { type: 'string' },
      out: { type: 'string' },
      text: { type: 'string' },
      firm: { type: 'boolean' },
      timeout: { type: 'string' },
      user: { type: 'string', short: 'u' },
      password: { type: 'string', short: 'p' },
      since: { type: 'string' },
      until: { type: 'string' },
      json: { type: 'boolean' },
      cameras: { type: 'string' },
      interval: { type: 'string' },
      model: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (!cmd || values.help || cmd === 'help') return void console.log(HELP);
  switch (cmd) {
    case 'check': {
      if (!values.config) fail('gateway check: --config FILE is required', 2);
      try {
        const s = loadSettings(values.config);
        const zones = s.settings.cameras.reduce((n, c) => n + c.zones.length, 0);
        console.log(
          `${values.config}: OK (${s.settings.cameras.length} cameras, ${zones} zones, ${s.settings.speakers.length} speakers, ${s.settings.officers.length} officers)`,
        );
      } catch (e) {
        fail(e instanceof ConfigError ? e.message : `${values.config}: ${(e as Error).message}`);
      }
      return;
    }
    case 'plan': {
      if (!values.cameras) fail('gateway plan: --cameras N is required', 2);
      const { plan, planText } = await import('./fleet/plan.ts');
      try {
        const p = plan(Number(values.cameras), Number(values.interval ?? 1), values.model ?? 'yolox_nano');
        return void console.log(values.json ? JSON.stringify(p) : planText(p));
      } catch (e) {
        return fail(`gateway plan: ${(e as Error).message}`, 2);
      }
    }
    case 'run': {
      if (!values.config) fail('gateway run: --config FILE is required', 2);
      const { runGateway } = await import('./run.ts');
      return runGateway(values.config);
    }
    case 'models': {
      const sub = positionals[0] ?? 'list';
      const dir = values.dir ?? filesDir();
      if (sub === 'fetch') {
        const mirror = mirrorDir(values.mirror);
        try {
          for (const r of await fetchAll({ dir, mirror })) console.log(`${r.file}: ${r.status}${r.from ? ` from ${r.from}` : ''}`);
        } catch (e) {
          fail(e instanceof AssetError ? e.message : String(e));
        }
        return;
      }
      if (sub === 'list') {
        let bad = 0;
        for (const a of listAssets()) {
          const ok = await verify(a, join(dir, a.file)).then(
            () => 'ok',
            (e: Error) => (bad++, e.message),
          );
          console.log(`${a.file.padEnd(18)} ${ok === 'ok' ? 'ok' : ok}`);
        }
        if (bad) process.exitCode = 1;
        return;
      }
      return fail(`gateway models: unknown subcommand "${sub}" (fetch, list)`, 2);
    }
    case 'speaker': {
      const [sub, id] = positionals;
      if (sub !== 'test' || !id) fail('usage: gateway speaker test ID --config FILE [--text T] [--firm]', 2);
      if (!values.config) fail('gateway speaker test: --config FILE is required', 2);
      const config = settingsOrFail(values.config);
      const { speakerTest } = await import('./speaker-test.ts');
      process.exitCode = await speakerTest(config, id, { text: values.text, firm: values.firm }, (l) => console.log(l));
      return;
    }
    case 'discover': {
      const { discoverCommand } = await import('./cli/cameras.ts');
      process.exitCode = await discoverCommand(
        { timeoutS: Number(values.timeout ?? 3), user: values.user, password: values.password },
        (l) => console.log(l),
      );
      return;
    }
    case 'probe': {
      const url = positionals[0];
      if (!url) fail('usage: gateway probe URL --user U --password P   (URL: onvif://host[:port] or http://host/onvif/device_service)', 2);
      const { probeCommand } = await import('./cli/cameras.ts');
      process.exitCode = await probeCommand(url, { user: values.user, password: values.password }, (l) => console.log(l));
      return;
    }
    case 'status': {
      if (!values.config) fail('gateway status: --config FILE is required', 2);
      const config = settingsOrFail(values.config);
      const { statusCommand } = await import('./cli/status.ts');
      process.exitCode = await statusCommand(config, (l) => console.log(l));
      return;
    }
    case 'stats': {
      if (!values.config) fail('gateway stats: --config FILE is required', 2);
      const config = settingsOrFail(values.config);
      const { statsCommand } = await import('./cli/stats.ts');
      process.exitCode = statsCommand(config, { since: values.since, until: values.until, json: values.json }, (l) => console.log(l));
      return;
    }
    case 'schema': {
      const json = JSON.stringify(SettingsSchema, null, 2);
      if (values.out) writeFileSync(values.out, `${json}\n`);
      else console.log(json);
      return;
    }
    default:
      fail(`gateway: unknown command "${cmd}"\n\n${HELP}`, 2);
  }
}

main(process.argv.slice(2)).catch((e) => {
  createLogger('error').fatal({ err: (e as Error).message }, 'gateway failed');
  process.exit(1);
});
