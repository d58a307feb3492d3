/**
 * `gateway status --config FILE`: what a running gateway says about itself, read from the
 * retained messages on its broker (status, camera and speaker health), so it works from
 * any machine that can reach the broker and needs nothing from the gateway process.
 */
import mqtt from 'mqtt';
import type { LoadedSettings } from '../settings/load.ts';
import { Topics } from '../api/topics.ts';
import { CHANNELS } from '../api/channels.ts';

type Out = (line: string) => void;

const age = (iso: string | null | undefined, now: number) =>
  iso ? `${Math.max(0, Math.round((now - Date.parse(iso)) / 1000))} s ago` : '-';

export async function statusCommand(config: LoadedSettings, out: Out, waitMs = 1500): Promise<number> {
  const s = config.settings;
  const topics = new Topics(s.mqtt.prefix, s.gateway.id);
  const url = s.mqtt.url ?? `mqtt://${s.mqtt.embedded.host === '0.0.0.0' ? '127.0.0.1' : s.mqtt.embedded.host}:${s.mqtt.embedded.port}`;
  let client;
  try {
    client = await mqtt.connectAsync(url, {
      username: s.mqtt.username,
      password: s.mqtt.password,
      protocolVersion: s.mqtt.url ? s.mqtt.protocol_version : 4,
      connectTimeout: 5000,
      reconnectPeriod: 0,
      clientId: `gateway-status-${process.pid}`,
    });
  } catch (e) {
    out(`cannot reach the broker ${url}: ${(e as Error).message}`);
    return 2;
  }
  const retained = new Map<string, Record<string, unknown>>();
  client.on('message', (topic, payload, packet) => {
    if (!packet.retain) return;
    try {
      retained.set(topic, JSON.parse(payload.toString()));
    } catch {
      /* not ours */
    }
  });
  const watched = ['status', 'cameraHealth', 'speakerHealth'] as const;
  await client.subscribeAsync(Object.fromEntries(watched.map((k) => [topics.filter(k), { qos: CHANNELS[k].qos }])));
  await new Promise((r) => setTimeout(r, waitMs));
  await client.endAsync();
  const now = Date.now();
  const status = retained.get(topics.status());
  out(
    `gateway ${s.gateway.id} on ${url}: ${status ? `${status.state}${status.reason ? ` (${status.reason})` : ''}, version ${status.version}` : 'no status (never connected to this broker?)'}`,
  );
  out('\ncameras');
  let bad = 0;
  const behind: { id: string; wanted: number; achieved: number }[] = [];
  for (const cam of s.cameras) {
    const h = retained.get(topics.cameraHealth(cam.id));
    if (!h) {
      out(`  ${cam.id.padEnd(16)} ${cam.enabled ? 'unknown (no health published)' : 'disabled'}`);
      continue;
    }
    if (h.state !== 'online') bad++;
    const reason = h.reason ? `  ${h.reason}` : '';
    const achieved = typeof h.analysis_interval_s === 'number' ? h.analysis_interval_s : null;
    if (h.state === 'online' && achieved !== null && achieved > 1.5 * cam.interval_s)
      behind.push({ id: cam.id, wanted: cam.interval_s, achieved });
    // Frames the still gate kept from inference (a still picture, nothing pending).
    const undecoded = h.still_undecoded ? ` (${h.still_undecoded} not decoded)` : '';
    const still = h.still_skipped ? `, ${h.still_skipped} skipped as still${undecoded}` : '';
    const every = achieved === null ? '' : `, analysed every ${achieved} s (wants ${cam.interval_s} s)`;
    out(
      `  ${cam.id.padEnd(16)} ${String(h.state).padEnd(12)} ${String(h.frames_per_minute ?? 0).padStart(3)} frames/min${every}, last frame ${age(h.last_frame_at as string, now)}, ${h.restarts} restarts, ${h.dropped} dropped${still}${reason}`,
    );
  }
  if (behind.length) {
    // The alert itself is not retained: judge from the health every camera publishes.
    const worst = behind.reduce((a, b) => (b.achieved / b.wanted > a.achieved / a.wanted ? b : a));
    out(
      `\nOVERLOADED: ${behind.length} camera(s) analysed less often than their interval_s (worst ${worst.id}: every ${worst.achieved} s instead of ${worst.wanted} s). Put fewer cameras on this box, set a longer interval_s, or use a lighter model.`,
    );
  }
  if (s.speakers.length) out('\nspeakers');
  for (const sp of s.speakers) {
    const h = retained.get(topics.speakerHealth(sp.id));
    // Unknown (never probed, nothing played yet) is not down; failed is.
    if (h?.state === 'failed') bad++;
    out(
      `  ${sp.id.padEnd(16)} ${h ? `${String(h.state).padEnd(12)} last ${h.last_outcome ?? '-'}${h.reason ? `  ${h.reason}` : ''}` : 'unknown (no health published)'}`,
    );
  }
  return status?.state === 'online' && bad === 0 && !behind.length ? 0 : 1;
}
