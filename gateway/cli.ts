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
 * gateway evidence export EVENT --out F  an event's signed evidence archive (bystanders blurred)
 * gateway evidence verify F [F...]       check archives anywhere, without the box
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

/** Each command's usage: `gateway COMMAND --help` and `gateway help COMMAND` print it. */
const USAGE: Record<string, string> = {
  run: `usage: gateway run --config FILE

Starts the gateway on a settings file (cameras, zones, speakers, broker, officers).`,
  check: `usage: gateway check --config FILE

Validates a settings file without starting; each problem names the file, line and key.
Exit 0 when it is valid, 1 when not.`,
  models: `usage: gateway models fetch [--mirror DIR] [--dir DIR]
       gateway models list [--dir DIR]

fetch: downloads the model weights and sample images (or copies them from a mirror
folder, GATEWAY_MIRROR), checking each SHA-256. list: what is there and whether it
verifies (exit 1 when something does not).`,
  schema: `usage: gateway schema [--out FILE]

Prints (or writes) the settings JSON Schema, for editors and the console.`,
  speaker: `usage: gateway speaker test ID --config FILE [--text T] [--firm]

Plays a warning on one speaker now and prints the probe, the outcome and a hint.
Exit 0 when it played.`,
  discover: `usage: gateway discover [--timeout S] [--user U --password P]

Finds ONVIF cameras on every IPv4 interface (WS-Discovery, S seconds, default 3) and
prints a settings snippet to paste. With --user and --password it also lists each
camera's profiles and streams, and the snippet carries the user name.`,
  probe: `usage: gateway probe URL --user U --password P

One camera (URL: onvif://host[:port] or http://host/onvif/device_service): maker,
firmware, clock offset, profiles, stream and snapshot URIs, and a settings snippet.`,
  status: `usage: gateway status --config FILE

What a running gateway reports, read retained from its broker: its status and each
camera's and speaker's health. Exit 0 when all is well, 1 when the gateway, a camera or a
speaker is down, 2 when the broker cannot be reached.`,
  stats: `usage: gateway stats --config FILE [--since T] [--until T] [--json]

The settled-by-warning share, stage times and counts from this box's event history
(read-only; works beside a running gateway and without the broker).`,
  evidence: `usage: gateway evidence export EVENT --config FILE --out F [--unredacted --by NAME --reason TEXT]
       gateway evidence export --chain --config FILE --out F
       gateway evidence verify F [F...] [--key PEM]

export: the event's signed evidence archive (tar), bystanders blurred unless --unredacted
(recorded in the database); --chain: every signed manifest, to show no event was removed.
verify: checks archives without the box; several (or a chain archive) are also checked
for a gap in the chain.`,
  plan: `usage: gateway plan --cameras N [--interval S] [--model M] [--json]

How many boxes of this machine type N cameras need (interval_s, default 1; model
yolox_nano or nanodet_m), from the benchmark figures, and how they were measured.`,
  console: `usage: gateway console hash --password P

Prints the scrypt hash of a password, for the console's users file.`,
};

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
  console hash --password P       an scrypt hash for a console users file entry
  stats --config FILE [--since T] [--until T] [--json]
                                  settled-by-warning share, stage times and counts, from
                                  this box's event history
  evidence export EVENT --config FILE --out F [--unredacted --by NAME --reason TEXT]
                                  the event's signed evidence archive (tar); blurred unless
                                  --unredacted, which is recorded in the database
  evidence export --chain --config FILE --out F
                                  every signed manifest, to show no event was removed
  evidence verify F [F...] [--key PEM]
                                  check archives without the box; several (or a chain
                                  archive) are also checked for a gap in the chain
  help [COMMAND]                  this text, or one command's (also: COMMAND --help)
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

const OPTIONS = {
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
  unredacted: { type: 'boolean' },
  chain: { type: 'boolean' },
  by: { type: 'string' },
  reason: { type: 'string' },
  key: { type: 'string' },
  cameras: { type: 'string' },
  interval: { type: 'string' },
  model: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h') return void console.log(HELP);
  if (cmd === 'help') {
    const about = rest[0];
    if (about && !USAGE[about]) fail(`gateway help: unknown command "${about}"\n\n${HELP}`, 2);
    return void console.log(about ? USAGE[about] : HELP);
  }
  if (!USAGE[cmd]) fail(`gateway: unknown command "${cmd}"\n\n${HELP}`, 2);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, allowPositionals: true, options: OPTIONS });
  } catch (e) {
    // An unknown or malformed option is a usage error, like a missing one.
    fail(`gateway ${cmd}: ${(e as Error).message}\n\n${USAGE[cmd]}`, 2);
  }
  const { values, positionals } = parsed;
  if (values.help) return void console.log(USAGE[cmd]);
  switch (cmd) {
    case 'check': {
      if (!values.config) fail('gateway check: --config FILE is required', 2);
      try {
        const s = loadSettings(values.config, process.env, { requireCameras: true });
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
    case 'evidence': {
      const [sub, ...args] = positionals;
      const { exportCommand, verifyCommand } = await import('./cli/evidence.ts');
      const { ExportError } = await import('./evidence/export.ts');
      const out = (l: string) => console.log(l);
      try {
        if (sub === 'export') {
          if (!values.config || !values.out || (!values.chain && !args[0]))
            fail('usage: gateway evidence export EVENT --config FILE --out F [--unredacted --by NAME --reason TEXT] | --chain', 2);
          const config = settingsOrFail(values.config);
          process.exitCode = exportCommand(
            config,
            { event: args[0], chain: values.chain, out: values.out, unredacted: values.unredacted, by: values.by, reason: values.reason },
            out,
          );
          return;
        }
        if (sub === 'verify') {
          if (!args.length) fail('usage: gateway evidence verify ARCHIVE [ARCHIVE...] [--key PEM]', 2);
          process.exitCode = verifyCommand(args, { key: values.key }, out);
          return;
        }
      } catch (e) {
        if (e instanceof ExportError) fail(e.message);
        throw e;
      }
      return fail(`gateway evidence: unknown subcommand "${sub ?? ''}" (export, verify)`, 2);
    }
    case 'console': {
      if (positionals[0] !== 'hash' || !values.password) fail('usage: gateway console hash --password P', 2);
      const { hashPassword } = await import('./console/passwords.ts');
      console.log(hashPassword(values.password));
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
  createLogger('error').fatal({ err: e }, 'gateway failed');
  process.exit(1);
});
