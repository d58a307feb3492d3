/** The settings this work added: defaults, and the cross-checks with file:line messages. */
import { describe, expect, it } from 'vitest';
import { parseSettings, ConfigError } from '../../gateway/settings/load.ts';

const issues = (yaml: string) => {
  try {
    parseSettings(yaml, '/etc/gateway/settings.yaml', {});
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.message.split('\n');
  }
};

describe('dispatch, HTTP and MQTT settings', () => {
  it('have defaults', () => {
    const s = parseSettings('gateway: { id: g }\n', '/x/settings.yaml', {}).settings;
    expect(s.dispatch).toMatchObject({
      ack_timeout_s: 120,
      local_radius_m: 3000,
      neighbour_towns: [],
      max_jobs_per_officer: 1,
      retry_s: 30,
    });
    expect(s.http).toMatchObject({ enabled: true, host: '0.0.0.0', port: 8080 });
    expect(s.mqtt).toMatchObject({ session_expiry_s: 86400, will_delay_s: 15, tls: { reject_unauthorized: true } });
    expect(s.stats.interval_s).toBe(300);
  });

  it('want gateway.town for neighbouring towns, and not the own town among them', () => {
    expect(issues('dispatch:\n  neighbour_towns: [大陈乡]\n')).toEqual([
      '/etc/gateway/settings.yaml:2:20: dispatch.neighbour_towns: neighbouring towns need gateway.town: which town is this box in?',
    ]);
    expect(issues('gateway: { town: 贺村镇 }\ndispatch:\n  neighbour_towns: [大陈乡, 贺村镇]\n')[0]).toMatch(
      /settings.yaml:3:\d+: dispatch.neighbour_towns\[1\]: "贺村镇" is this box's own town/,
    );
  });

  it('check TLS files and the URL scheme, and a short HTTP token', () => {
    const out = issues(
      "mqtt:\n  url: 'mqtt://b:1883'\n  tls: { ca: /nonexistent/ca.pem, cert: /nonexistent/c.pem }\nhttp: { token: short }\n",
    );
    expect(out).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/mqtt.tls.ca: file not found: \/nonexistent\/ca.pem/),
        expect.stringMatching(/mqtt.tls.key: a client certificate needs both cert and key/),
        expect.stringMatching(/mqtt.url: mqtt.tls is set but the URL "mqtt:\/\/b:1883" is not TLS/),
        expect.stringMatching(/http.token: must NOT have fewer than 16 characters/),
      ]),
    );
  });
});
