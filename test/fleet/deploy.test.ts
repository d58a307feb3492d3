/**
 * The deployment files: the systemd unit as deploy/install.sh writes it passes
 * `systemd-analyze verify`; the Kubernetes manifests validate against the Kubernetes API
 * schemas (kubernetes-models, offline; it checks types and required fields, not unknown
 * keys); the ConfigMap's settings load, and each StatefulSet pod runs its own camera shard.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { havePeers } from '../peers/require.ts';
import { tempDir } from '../helpers/gateway.ts';
import { ROOT } from '../../gateway/paths.ts';
import { parseSettings } from '../../gateway/settings/load.ts';
import { inShard, shardIndex } from '../../gateway/fleet/shard.ts';

const K8S = join(ROOT, 'deploy/k8s');
const KINDS: Record<string, new (d: any) => { validate(): void }> = { ConfigMap, Secret, Service, StatefulSet };

function manifests(): { file: string; doc: Record<string, any> }[] {
  return readdirSync(K8S)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((file) => parseAllDocuments(readFileSync(join(K8S, file), 'utf8')).map((d) => ({ file, doc: d.toJS() })));
}

describe.runIf(havePeers('systemd-analyze'))('systemd unit', () => {
  it('passes systemd-analyze verify as installed, with watchdog, restart, limits, own user and journald', () => {
    const unit = execFileSync('bash', [join(ROOT, 'deploy/install.sh'), '--render-unit'], { encoding: 'utf8' });
    const file = join(tempDir('gw-unit-'), 'township-gateway.service');
    writeFileSync(file, unit);
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const line of ['Type=notify', 'NotifyAccess=all', 'WatchdogSec=30', 'Restart=always', 'User=township-gateway', 'MemoryMax=3G'])
      expect(unit).toContain(line);
    expect(unit).toContain('StandardOutput=journal');
    expect(unit).toContain(`${process.execPath} /opt/township-gateway/bin/gateway.mjs run`);
  });

  it('a broken unit fails the same check (the check can fail)', () => {
    const file = join(tempDir('gw-unit-'), 'broken.service');
    writeFileSync(file, '[Service]\nType=notify\nExecStart=/nonexistent/node run\nWatchdogSec=soon\n');
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
  });
});

describe('Kubernetes manifests', () => {
  it('validate against the Kubernetes schemas', () => {
    const all = manifests();
    expect(all.map((m) => m.doc.kind).sort()).toEqual(['ConfigMap', 'Secret', 'Service', 'StatefulSet']);
    for (const { file, doc } of all) {
      const Kind = KINDS[doc.kind];
      expect(Kind, `${file}: kind ${doc.kind}`).toBeDefined();
      expect(() => new Kind!(doc).validate(), file).not.toThrow();
    }
  });

  it('a wrong type is caught (the check can fail)', () => {
    const sts = manifests().find((m) => m.doc.kind === 'StatefulSet')!.doc;
    sts.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => new StatefulSet(sts).validate()).toThrow(/containerPort must be integer/);
  });

  it('StatefulSet: a volume per pod for data_dir, settings from the ConfigMap, secrets from the Secret, liveness on /health', () => {
    const sts = manifests().find((m) => m.doc.kind === 'StatefulSet')!.doc;
    const c = sts.spec.template.spec.containers[0];
    expect(c.livenessProbe.httpGet.path).toBe('/health');
    expect(c.envFrom[0].secretRef.name).toBe('township-gateway');
    expect(sts.spec.template.spec.volumes.find((v: any) => v.name === 'settings').configMap.name).toBe('township-gateway');
    expect(sts.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    expect(c.volumeMounts.find((m: any) => m.name === 'data').mountPath).toBe('/var/lib/township-gateway');
    expect(sts.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
  });

  it("the ConfigMap's settings load, and each pod's ordinal picks a distinct camera shard", () => {
    const docs = manifests();
    const cm = docs.find((m) => m.doc.kind === 'ConfigMap')!.doc;
    const sts = docs.find((m) => m.doc.kind === 'StatefulSet')!.doc;
    const secret = docs.find((m) => m.doc.kind === 'Secret')!.doc;
    const owner = new Map<string, string>();
    for (let i = 0; i < sts.spec.replicas; i++) {
      const pod = `${sts.metadata.name}-${i}`;
      const s = parseSettings(cm.data['settings.yaml'], 'configmap:settings.yaml', { ...secret.stringData, POD_NAME: pod }).settings;
      expect(s.gateway.id).toBe(pod);
      expect(s.fleet.shards).toBe(sts.spec.replicas);
      const shard = shardIndex(s.fleet, pod);
      expect(shard).toBe(i);
      s.cameras.forEach((cam, k) => inShard(k, shard as number, s.fleet.shards) && owner.set(cam.id, pod));
    }
    expect(owner.size).toBe(
      parseSettings(cm.data['settings.yaml'], 'x', { ...secret.stringData, POD_NAME: 'p-0' }).settings.cameras.length,
    );
  });
});

describe('camera shards', () => {
  it('spread cameras round-robin and name the setting when the shard is wrong', () => {
    expect([0, 1, 2, 3, 4, 5, 6].filter((i) => inShard(i, 1, 3))).toEqual([1, 4]);
    expect(shardIndex({ shard: 'ordinal', shards: 3 }, 'township-gateway-2')).toBe(2);
    expect(shardIndex({ shard: 'ordinal', shards: 3 }, 'edge-box')).toMatch(/fleet.shard is 'ordinal' but the host name "edge-box"/);
    expect(shardIndex({ shard: 3, shards: 3 }, 'x')).toMatch(/fleet.shard 3 is not below fleet.shards \(3\)/);
  });
});

describe('fleet settings', () => {
  it('gateway check names fleet.shard when it is not below fleet.shards', () => {
    const dir = tempDir('gw-shard-');
    expect(() => parseSettings(`gateway: { data_dir: ${dir} }\nfleet: { shards: 2, shard: 2 }\n`, join(dir, 'settings.yaml'))).toThrow(
      /settings\.yaml.*fleet\.shard.*shard 2 is not below fleet\.shards \(2\)/s,
    );
  });
});
