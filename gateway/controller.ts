/**
 * Starts the parts in order and stops them in reverse. A part that fails is logged and
 * contained: a camera with a broken model or stream is marked so, and the others run.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { LoadedSettings } from './settings/load.ts';
import type { CameraSettings } from './settings/schema.ts';
import type { Logger } from './log.ts';
import { systemClock, type Clock } from './clock.ts';
import { Bus } from './bus.ts';
import { openDb } from './store/db.ts';
import { EventsRepo } from './store/events.ts';
import { OutboxRepo, PRIORITY } from './store/outbox.ts';
import { Topics } from './api/topics.ts';
import { healthPayload } from './api/payloads.ts';
import { Uplink } from './uplink/uplink.ts';
import { startBroker, type EmbeddedBroker } from './uplink/broker.ts';
import type { Context } from './context.ts';
import { DetectorRuntime } from './detect/runtime.ts';
import { filesDir, MODELS_DIR, ROOT } from './paths.ts';
import { startSpeakers, type Speakers } from './alert/speakers.ts';
import { warningPolicy } from './alert/policy.ts';
import { Roster } from './dispatch/roster.ts';
import { subscribeOfficers } from './dispatch/officer-input.ts';
import { EventService, ruleKey } from './events/service.ts';
import { resolveZoneRules, type ZoneRule } from './rules/zone-rules.ts';
import { CameraPipeline } from './pipeline.ts';
import type { CameraHealth } from './capture/health.ts';
import type { Frame } from './capture/camera.ts';
import type { Detection } from './detect/types.ts';
import type { EventRecord } from './events/types.ts';
import { Dispatcher } from './dispatch/dispatcher.ts';
import { DispatchesRepo } from './store/dispatches.ts';
import { dispatchConfig } from './dispatch/config.ts';
import { subscribeOfficerReplies } from './dispatch/officer-reply.ts';
import type { HttpApi } from './http/server.ts';
import { startHttpApi } from './http/start.ts';
import { StatsPublisher } from './stats/publisher.ts';
import { Commands } from './commands/handler.ts';
import { commandActions } from './commands/actions.ts';
import { reloadSettings } from './commands/reload.ts';
import { OfficerClaims } from './dispatch/claims.ts';
import { inShard, shardIndex } from './fleet/shard.ts';

export const VERSION: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;

export interface GatewayOptions {
  config: LoadedSettings;
  log: Logger;
  clock?: Clock;
  /** Sees each camera's frames with the detections the tracker gets (scenario runs, tests). */
  onDetections?: (camera: string, frame: Frame, detections: readonly Detection[]) => void;
}

export class Gateway {
  ctx!: Context;
  events!: EventService;
  dispatcher!: Dispatcher;
  commands!: Commands;
  stats!: StatsPublisher;
  http: HttpApi | null = null;
  claims: OfficerClaims | null = null;
  readonly pipelines = new Map<string, CameraPipeline>();
  runtime!: DetectorRuntime;
  speakers?: Speakers;
  private broker: EmbeddedBroker | null = null;
  private readonly health = new Map<string, CameraHealth>();
  private timers: NodeJS.Timeout[] = [];
  private readonly o: GatewayOptions;

  constructor(o: GatewayOptions) {
    this.o = o;
  }

  async start(): Promise<void> {
    const { config, log } = this.o;
    const s = config.settings;
    const clock = this.o.clock ?? systemClock;
    const dataDir = config.resolvePath(s.gateway.data_dir);
    const db = openDb(join(dataDir, 'gateway.db'));
    const topics = new Topics(s.mqtt.prefix, s.gateway.id);

    let url = s.mqtt.url;
    let protocolVersion = s.mqtt.protocol_version;
    if (!url) {
      this.broker = await startBroker(s.mqtt.embedded.host, s.mqtt.embedded.port);
      url = this.broker.url;
      protocolVersion = 4; // aedes speaks MQTT 3.1.1 only
      log.info(
        { broker: url },
        'embedded MQTT broker started (watch: mosquitto_sub -h %s -p %d -t "#" -v)',
        s.mqtt.embedded.host,
        s.mqtt.embedded.port,
      );
    }
    const tls = s.mqtt.tls;
    const file = (f?: string) => (f ? readFileSync(config.resolvePath(f)) : undefined);
    const uplink = new Uplink({
      url,
      username: s.mqtt.username,
      password: s.mqtt.password,
      protocolVersion,
      clientId: `gw-${s.gateway.id}`,
      topics,
      outbox: new OutboxRepo(db),
      log,
      clock,
      version: VERSION,
      replayPerSecond: s.mqtt.replay_per_second,
      maxOutbox: s.mqtt.outbox_max_messages,
      sessionExpiryS: s.mqtt.session_expiry_s,
      willDelayS: s.mqtt.will_delay_s,
      tls: { ca: file(tls.ca), cert: file(tls.cert), key: file(tls.key), rejectUnauthorized: tls.reject_unauthorized },
    });
    const ctx: Context = { config, log, clock, bus: new Bus(), db, topics, uplink, dataDir, version: VERSION };
    this.ctx = ctx;

    const roster = new Roster(db, s.officers);

    this.speakers = await startSpeakers(ctx);
    const { drivers, warner } = this.speakers;

    const rules = new Map<string, ZoneRule>();
    const camRules = new Map<string, ZoneRule[]>();
    for (const cam of s.cameras) {
      const rs = resolveZoneRules(cam, s.warnings.messages, s.gateway.timezone);
      camRules.set(cam.id, rs);
      for (const r of rs) rules.set(ruleKey(r.camera, r.zone, r.type), r);
    }
    const repo = new EventsRepo(db);
    const policy = warningPolicy(s, config.resolvePath);
    policy.limiter.restore(repo.firstWarningsSince(clock.now() - policy.limiter.windowMs));
    const cameras = new Map(
      s.cameras.map((c) => [c.id, { id: c.id, name: c.name ?? c.id, location: c.location, place: c.place, speakers: c.speakers }]),
    );
    this.stats = new StatsPublisher(ctx);
    const zoneName = (e: EventRecord) => rules.get(ruleKey(e.camera, e.zone, e.type))?.zoneName ?? e.zone;
    const http = (this.http = await startHttpApi({ ctx, repo, stats: this.stats, cameras, zoneName }));
    const evidenceUrl = http ? (e: { id: string }) => http.evidenceUrl(e.id) : undefined;
    const shard = shardIndex(s.fleet);
    if (typeof shard === 'string') throw new Error(`${config.file}: ${shard}`);
    if (s.fleet.claims) {
      const active = new DispatchesRepo(db);
      this.claims = new OfficerClaims({
        uplink,
        topics,
        gatewayId: s.gateway.id,
        log,
        clock,
        bus: ctx.bus,
        settings: { settleMs: s.fleet.claim_settle_ms, ttlS: s.fleet.claim_ttl_s },
        openOfficers: () => new Set(active.activeJobs().keys()),
      });
      this.claims.start();
    }
    this.dispatcher = new Dispatcher({
      claims: this.claims,
      db,
      repo,
      uplink,
      topics,
      gatewayId: s.gateway.id,
      log,
      clock,
      roster,
      cameras,
      evidenceUrl,
      zoneName,
      config: dispatchConfig(s),
    });
    this.events = new EventService({
      db,
      repo,
      uplink,
      topics,
      gatewayId: s.gateway.id,
      log,
      clock,
      bus: ctx.bus,
      warner,
      roster,
      evidenceDir: join(dataDir, 'evidence'),
      timeZone: s.gateway.timezone,
      cameras,
      rules,
      presence: (e) => this.pipelines.get(e.camera)?.presence(e) ?? 'unknown',
      dispatch: { positionMaxAgeS: s.dispatch.position_max_age_s, deadlineS: s.dispatch.deadline_s },
      policy,
      dispatcher: this.dispatcher,
      evidenceUrl,
    });

    // Every subscription is in place before the first connect: a persistent session may
    // hand over queued commands and officers' answers at once.
    subscribeOfficers(ctx, roster, () => this.events.wake('unassigned'));
    subscribeOfficerReplies(ctx, roster, this.dispatcher);
    this.commands = new Commands(
      ctx,
      commandActions({
        events: this.events,
        repo,
        warner,
        clock,
        stats: this.stats,
        speakers: () => [...drivers.keys()],
        cameraSpeakers: (id) => cameras.get(id)?.speakers,
        reload: () =>
          reloadSettings(config, {
            officers: (n) => roster.replace(n.officers),
            dispatch: (n) => this.dispatcher.configure(dispatchConfig(n)),
            stats: (n) => this.stats.start(n.stats.interval_s),
          }),
      }),
    );
    this.commands.start();
    uplink.start();

    await this.startDetection();
    for (const [i, cam] of s.cameras.entries()) {
      if (!cam.enabled || !inShard(i, shard, s.fleet.shards)) continue;
      const d = this.runtime.forCamera(cam);
      const p = new CameraPipeline({
        ctx,
        camera: cam,
        rules: camRules.get(cam.id) ?? [],
        queues: d.queues,
        events: this.events,
        input: d.input,
        onHealth: (h) => this.onHealth(this.withDetector(cam, h)),
        onDetections: this.o.onDetections ? (f, d) => this.o.onDetections!(cam.id, f, d) : undefined,
      });
      this.pipelines.set(cam.id, p);
    }
    this.events.resume();
    this.stats.start(s.stats.interval_s);
    for (const p of this.pipelines.values()) p.start();
    this.timers.push(setInterval(() => this.publishHealth(), 30_000));
    this.timers.push(setInterval(() => this.publishTelemetry(), 60_000));
    if (s.fleet.shards > 1) log.info({ shard, shards: s.fleet.shards, cameras: [...this.pipelines.keys()] }, 'camera shard');
    log.info({ cameras: this.pipelines.size, speakers: drivers.size, officers: s.officers.length, data: dataDir }, 'gateway running');
  }

  /** One session per model, shared by its cameras. A model that fails to load fails only its cameras. */
  private async startDetection(): Promise<void> {
    const { config, log } = this.o;
    const s = config.settings;
    this.runtime = await DetectorRuntime.start({
      settings: s,
      log,
      modelsDir: s.models.dir ? config.resolvePath(s.models.dir) : MODELS_DIR,
      filesDir: s.models.files_dir ? config.resolvePath(s.models.files_dir) : filesDir(),
      routes: {
        onResult: (r) => this.pipelines.get(r.frame.camera)?.onDetected(r),
        onDrop: (f) => this.pipelines.get(f.camera)?.onLost(f),
        onError: (f, model, e) => {
          log.error({ camera: f.camera, model, err: e.message }, 'detection failed');
          this.pipelines.get(f.camera)?.onLost(f);
        },
        onModelState: () => this.publishHealth(),
      },
    });
  }

  /**
   * A camera whose models failed is marked "detector failed", naming the model and why.
   * With nothing left to detect (no model, no static change) it counts as offline.
   */
  private withDetector(cam: CameraSettings, h: CameraHealth): CameraHealth {
    const failed = this.runtime.failureOf(cam);
    if (!failed.length) return h;
    const reason = `detector failed: ${failed.map((f) => (f.reason.startsWith(`model "${f.model}"`) ? f.reason : `model "${f.model}": ${f.reason}`)).join('; ')}`;
    const p = this.pipelines.get(cam.id);
    const left = this.runtime.forCamera(cam).queues.length + (p?.staticChange ? 1 : 0);
    return left ? { ...h, reason } : { ...h, state: 'offline', reason, code: 'unsupported' };
  }

  private onHealth(h: CameraHealth): void {
    this.health.set(h.camera, h);
    this.ctx.bus.emit('camera.health', h);
    this.ctx.uplink.publishRetained(
      this.ctx.topics.cameraHealth(h.camera),
      JSON.stringify(healthPayload(this.o.config.settings.gateway.id, h, this.ctx.clock.now())),
    );
  }

  cameraHealth(): CameraHealth[] {
    return [...this.pipelines.values()].map((p) => this.withDetector(p.camera, p.capture.snapshot()));
  }

  private publishHealth(): void {
    for (const h of this.cameraHealth()) this.onHealth(h);
  }

  private publishTelemetry(): void {
    const now = this.ctx.clock.now();
    const detectors = this.runtime.stats();
    const failed = Object.fromEntries(this.runtime.failures);
    const payload = {
      gateway: this.o.config.settings.gateway.id,
      at: new Date(now).toISOString(),
      detectors,
      detectors_failed: failed,
      outbox: this.ctx.uplink.pending(),
      rss_mb: Math.round(process.memoryUsage().rss / 1e6),
    };
    this.ctx.uplink.enqueue({
      topic: this.ctx.topics.telemetry(),
      payload: JSON.stringify(payload),
      qos: 0,
      priority: PRIORITY.telemetry,
      expiresAt: now + 3600_000,
    });
    this.ctx.uplink.flush();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.stats?.stop();
    await this.http?.stop();
    await Promise.all([...this.pipelines.values()].map((p) => p.stop()));
    await this.runtime?.stop();
    await this.events?.stop();
    this.claims?.stop();
    await this.speakers?.stop();
    await this.ctx?.uplink.settle(2000);
    await this.ctx?.uplink.stop();
    await this.broker?.close();
    this.ctx?.db.close();
  }
}
