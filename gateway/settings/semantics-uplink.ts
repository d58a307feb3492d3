/** Cross-checks for the MQTT connection, the HTTP API and dispatch ("1+3" towns). */
import { existsSync } from 'node:fs';
import type { Settings } from './schema.ts';
import type { ConfigIssue } from './issues.ts';

export function checkUplinkAndDispatch(s: Settings, resolvePath: (p: string) => string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const tls = s.mqtt.tls;
  for (const k of ['ca', 'cert', 'key'] as const) {
    const f = tls[k];
    if (f && !existsSync(resolvePath(f))) issues.push({ path: ['mqtt', 'tls', k], message: `file not found: ${resolvePath(f)}` });
  }
  if (!!tls.cert !== !!tls.key)
    issues.push({ path: ['mqtt', 'tls', tls.cert ? 'key' : 'cert'], message: 'a client certificate needs both cert and key' });
  if ((tls.ca || tls.cert) && s.mqtt.url && !/^(mqtts|wss|tls):/.test(s.mqtt.url))
    issues.push({ path: ['mqtt', 'url'], message: `mqtt.tls is set but the URL "${s.mqtt.url}" is not TLS; use mqtts://host:8883` });
  if (!s.mqtt.url && !isLoopback(s.mqtt.embedded.host) && !(s.mqtt.username && s.mqtt.password))
    issues.push({
      path: ['mqtt', 'embedded', 'host'],
      message: `the embedded broker on ${s.mqtt.embedded.host} would be open to the LAN (anyone could send commands or answer as an officer): set mqtt.username and mqtt.password (officers then log in with their id and officers[].password), or bind it to 127.0.0.1`,
    });
  const towns = s.dispatch.neighbour_towns;
  if (towns.length && !s.gateway.town)
    issues.push({ path: ['dispatch', 'neighbour_towns'], message: 'neighbouring towns need gateway.town: which town is this box in?' });
  towns.forEach((t, i) => {
    if (t === s.gateway.town)
      issues.push({ path: ['dispatch', 'neighbour_towns', i], message: `"${t}" is this box's own town (gateway.town)` });
  });
  return issues;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
