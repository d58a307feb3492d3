/**
 * The benchmark's settings file: N cameras (a looping file or an RTSP stream each), one
 * illegal_parking zone per camera, one recording speaker per camera (a shared speaker
 * would queue the warnings one after another), and `--set key=value` overrides. Each
 * camera is written out in full: no YAML anchors or aliases, so the file reads like one a
 * township would write.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { ZONE } from './clip.ts';

export interface BenchSettings {
  dir: string;
  urls: string[];
  speakerPorts: number[];
  /** An external broker (mosquitto), or the gateway's embedded one on this port. */
  broker: { url: string } | { embeddedPort: number };
  intervalS: number;
  dwellS: number;
  overrides: string[];
}

export const GATEWAY_ID = 'bench';
export const PREFIX = 'bench';

export const cameraId = (i: number) => `cam-${String(i + 1).padStart(3, '0')}`;

export function benchSettings(o: BenchSettings): Record<string, any> {
  return {
    version: 1,
    gateway: { id: GATEWAY_ID, name: 'benchmark', data_dir: join(o.dir, 'data'), log_level: 'info' },
    mqtt:
      'url' in o.broker
        ? { url: o.broker.url, prefix: PREFIX }
        : { prefix: PREFIX, embedded: { host: '127.0.0.1', port: o.broker.embeddedPort } },
    http: { host: '127.0.0.1', port: 0 },
    detector: { model: 'yolox_nano' },
    cameras: o.urls.map((url, i) => ({
      id: cameraId(i),
      url,
      // One place name for all: the warning text, and so its synthesised audio, is shared.
      place: '基准测试路口',
      interval_s: o.intervalS,
      location: { lat: 28.77 + i * 1e-4, lon: 118.55 },
      speakers: [`spk-${cameraId(i)}`],
      zones: [
        {
          id: 'plaza',
          polygon: ZONE.map((p) => [...p]),
          rules: [{ type: 'illegal_parking', dwell_s: o.dwellS }],
        },
      ],
    })),
    speakers: o.speakerPorts.map((port, i) => ({ id: `spk-${cameraId(i)}`, url: `rtp://127.0.0.1:${port}`, codec: 'pcma' })),
  };
}

/**
 * `key=value` with a dotted path; the value is read as YAML (3, true, [a, b]). A list on
 * the way without an index applies the rest to every element: `cameras.interval_s=3`
 * sets every camera's, `cameras.zones.rules.dwell_s=30` every rule's.
 */
export function applyOverride(root: Record<string, any>, spec: string): void {
  const eq = spec.indexOf('=');
  if (eq < 1) throw new Error(`--set ${spec}: expected key=value`);
  const path = spec.slice(0, eq).split('.');
  const value = YAML.parse(spec.slice(eq + 1));
  const walk = (node: any, i: number): void => {
    if (Array.isArray(node) && !/^\d+$/.test(path[i])) {
      for (const el of node) walk(el, i);
      return;
    }
    const key = path[i];
    if (i === path.length - 1) {
      node[key] = value;
      return;
    }
    if (node[key] === undefined || node[key] === null) node[key] = {};
    walk(node[key], i + 1);
  };
  walk(root, 0);
}

export function writeBenchSettings(o: BenchSettings): string {
  const s = benchSettings(o);
  for (const spec of o.overrides) applyOverride(s, spec);
  const file = join(o.dir, 'settings.yaml');
  writeFileSync(file, YAML.stringify(s, { aliasDuplicateObjects: false, lineWidth: 0 }));
  return file;
}
