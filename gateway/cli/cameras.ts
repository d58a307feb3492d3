/**
 * `gateway discover` and `gateway probe`: find ONVIF cameras on the LAN and print what a
 * technician needs to paste into the settings, without typing stream URLs.
 */
import { discover, probe, chooseStreams, type OnvifDevice } from '../../devices/onvif/index.ts';
import { isDeviceError } from '../../devices/errors.ts';

type Out = (line: string) => void;

function profilesTable(d: OnvifDevice, out: Out): void {
  const s = d.profiles.length ? chooseStreams(d) : null;
  for (const p of d.profiles) {
    const role = s?.analytics.token === p.token ? ' ← analytics' : s?.main.token === p.token ? ' ← main (evidence)' : '';
    out(
      `    ${p.token.padEnd(22)} ${`${p.width}x${p.height}`.padEnd(10)} ${p.encoding.padEnd(5)} ${String(p.fps ?? '').padEnd(3)} ${p.streamUri}${role}`,
    );
  }
  if (s)
    out(`    snapshot: ${s.snapshotUri || 'none (the camera gives an empty snapshot URI; evidence stills come from the main stream)'}`);
}

/**
 * A settings snippet for one camera; the password stays an environment variable. Without
 * a user name (discover without --user) the credentials are left as a comment to fill in:
 * a guessed "admin" would look like something the camera said.
 */
export function snippet(id: string, url: string, user: string | undefined, name?: string): string {
  const env = `${id.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PASSWORD`;
  const creds = user
    ? [`    username: ${user}`, `    password: \${${env}}`]
    : [`    # username: USER              # the camera's ONVIF user; then set password: \${${env}}`];
  return [
    `  - id: ${id}`,
    `    name: ${JSON.stringify(name ?? id)}`,
    `    url: ${url}`,
    ...creds,
    '    location: { lat: 0.0, lon: 0.0 }   # where the camera is: used to dispatch the nearest officer',
    '    zones: []                          # draw zones, e.g. [{id: z1, polygon: [[0.1,0.6],[0.9,0.6],[0.9,0.99],[0.1,0.99]], rules: [{type: illegal_parking}]}]',
  ].join('\n');
}

export async function discoverCommand(o: { timeoutS: number; user?: string; password?: string }, out: Out): Promise<number> {
  const r = await discover({ timeoutMs: o.timeoutS * 1000 });
  out(`probed ${r.interfaces.length} interface(s): ${r.interfaces.map((i) => `${i.address}${i.error ? ` (${i.error})` : ''}`).join(', ')}`);
  if (!r.devices.length) {
    out('no ONVIF cameras answered. Check that they are on this LAN, that ONVIF is enabled on them, and that multicast is not filtered.');
    return 1;
  }
  out(`found ${r.devices.length} camera(s):`);
  const snippets: string[] = [];
  for (const [i, d] of r.devices.entries()) {
    out(
      `  ${d.address.padEnd(15)} ${[d.maker, d.model ?? d.hardware].filter(Boolean).join(' ') || '(unknown maker)'}  ${d.name ?? ''}  ${d.url}`,
    );
    const host = new URL(d.url).host;
    const url = `onvif://${host}`;
    if (o.user) {
      try {
        profilesTable(await probe(d.url, { user: o.user, password: o.password, timeoutMs: 8000 }), out);
      } catch (e) {
        out(`    profiles: ${isDeviceError(e) ? `${e.code}: ${e.message}` : String(e)}`);
      }
    }
    snippets.push(snippet(`cam-${String(i + 1).padStart(2, '0')}`, url, o.user, d.name ?? d.location));
  }
  if (!o.user) out("  (add --user U --password P to list each camera's profiles and streams)");
  out('\n# paste under cameras: in your settings file');
  out(['cameras:', ...snippets].join('\n'));
  return 0;
}

export async function probeCommand(url: string, o: { user?: string; password?: string }, out: Out): Promise<number> {
  try {
    const d = await probe(url, { user: o.user, password: o.password, timeoutMs: 10_000 });
    out(`${d.manufacturer} ${d.model} (firmware ${d.firmware}, serial ${d.serial})`);
    out(`  device service: ${d.url}; auth: ${d.auth}; media: ${d.media}; clock offset: ${(d.clockOffsetMs / 1000).toFixed(1)} s`);
    out('  profiles:');
    profilesTable(d, out);
    for (const w of d.warnings) out(`  warning: ${w}`);
    out('\n# settings');
    out(snippet('cam-01', url.startsWith('onvif://') ? url : `onvif://${new URL(d.url).host}`, o.user, `${d.manufacturer} ${d.model}`));
    return 0;
  } catch (e) {
    out(isDeviceError(e) ? `${e.code}: ${e.message}` : String((e as Error).message ?? e));
    return 1;
  }
}
