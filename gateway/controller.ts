/**
 * Starts the parts in order and stops them in reverse. A part that fails is logged and
 * contained: a camera with a broken model or stream is marked so, and the others run.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { LoadedSettings } from './settings/load.ts';
import type { CameraSettings, Settings } from './settings/schema.ts';
import type { Logger } from './log.ts';
import { ClockWatch, systemClock, type Clock } from './clock.ts';
import { Bus } from './bus.ts';
import { openDb } from './store/db.ts';
import { EventsRepo } from './store/events.ts';
import { OutboxRepo, PRIORITY } from './store/outbox.ts';
import { Topics } from './api/topics.ts';
import { delivery, expirySeconds } from './api/channels.ts';
import { alertPayload, healthPayload } from './api/payloads.ts';
import { ulid } from 'ulid';
import { OverloadWatch } from './detect/overload.ts';
import { Uplink } from './uplink/uplink.ts';
import { startBroker, type BrokerProcess } from './uplink/broker-process.ts';
import type { Context } from './context.ts';
import { DetectorRuntime } from './detect/runtime.ts';
import { filesDir, MODELS_DIR, ROOT } from './paths.ts';
import { startSpeakers, type Speakers } from './alert/speakers.ts';
import { warningPolicy } from './alert/policy.ts';
import { warmWarnings } from './events/warm-audio.ts';
import { warmLauncher } from '../devices/util/launcher.ts';
import { Roster } from './dispatch/roster.ts';
import { subscribeOfficers } from './dispatch/officer-input.ts';
import { EventService, ruleKey } from './events/service.ts';
import { EventLifecycle } from './events/lifecycle.ts';
import { WarningsRepo } from './store/warnings.ts';
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
import { Faults, freeBytes } from './faults.ts';
import { prepareDataDir } from './store/data-dir.ts';
import { reloadSettings } from './commands/reload.ts';
import { EvidencePart } from './evidence/part.ts';
import { startConsole } from './console/start.ts';
import { LatestFrames } from './console/live.ts';
import { AudioCache } from './alert/audio.ts';
import { chooseTts } from './alert/tts.ts';
import { staticZones } from './detect/camera.ts';
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
  evidence!: EvidencePart;
  claims: OfficerClaims | null = null;
  readonly pipelines = new Map<string, CameraPipeline>();
  runtime!: DetectorRuntime;
  speakers?: Speakers;
  private broker: BrokerProcess | null = null;
  private readonly health = new Map<string, CameraHealth>();
  /** Each camera's newest analysed frame and detections, for the console. */
  readonly latest = new LatestFrames();
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  overload!: OverloadWatch;
  private clockWatch: ClockWatch | null = null;
  private readonly o: GatewayOptions;

  constructor(o: GatewayOptions) {
    this.o = o;
  }

  async start(): Promise<void> {
    const { config, log } = this.o;
    // Forked now, while the gateway is small and idle, not at the first event's evidence.
    warmLauncher();
    const s = config.settings;
    const clock = this.o.clock ?? systemClock;
    const dataDir = config.resolvePath(s.gateway.data_dir);
    const files = prepareDataDir(dataDir);
    if (files.tempRemoved) log.warn({ files: files.tempRemoved }, 'removed evidence temp files left by a crash or a full disk');
    const db = openDb(files.db);
    const topics = new Topics(s.mqtt.prefix, s.gateway.id);

    let url = s.mqtt.url;
    let protocolVersion = s.mqtt.protocol_version;
    if (!url) {
      // With credentials set every client logs in (the settings check requires them off loopback).
      const auth =
        s.mqtt.username && s.mqtt.password
          ? { username: s.mqtt.username, password: s.mqtt.password, officers: s.officers, prefix: s.mqtt.prefix, gatewayId: s.gateway.id }
          : undefined;
      this.broker = await startBroker(s.mqtt.embedded.host, s.mqtt.embedded.port, auth);
      url = this.broker.url;
      protocolVersion = 4; // aedes speaks MQTT 3.1.1 only
      log.info(
        { broker: url, pid: this.broker.pid },
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
    const faults = new Faults({ log, clock, uplink, topics, gatewayId: s.gateway.id });
    const ctx: Context = { config, log, clock, bus: new Bus(), db, topics, uplink, dataDir, version: VERSION, faults };
    this.ctx = ctx;

    const roster = new Roster(db, s.officers, clock);

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
    const policy = warningPolicy(s, config.resolvePath, clock);
    policy.limiter.restore(repo.firstWarningsSince(clock.now() - policy.limiter.windowMs));
    const cameras = new Map(
      s.cameras.map((c) => [c.id, { id: c.id, name: c.name ?? c.id, location: c.location, place: c.place, speakers: c.speakers }]),
    );
    this.stats = new StatsPublisher(ctx);
    const zoneName = (e: EventRecord) => rules.get(ruleKey(e.camera, e.zone, e.type))?.zoneName ?? e.zone;
    this.evidence = new EvidencePart({
      ctx,
      events: repo,
      still: (camera) => this.pipelines.get(camera)?.capture.still() ?? Promise.resolve(null),
      rule: (e) => {
        const r = rules.get(ruleKey(e.camera, e.zone, e.type));
        return { type: e.type, zone_name: zoneName(e), dwell_s: r?.dwellS ?? null, grace_s: r?.graceS ?? null };
      },
    });
    warner.onPlay = (req, speaker, audio) => this.evidence.recorder.playing(req.eventId, speaker, req.repeat ?? 0, audio);
    const speakersOf = (camera: string) => cameras.get(camera)?.speakers ?? [];
    void warmWarnings({ warner, policy, rules: rules.values(), speakers: speakersOf, log, stopped: () => this.stopping });
    const http = (this.http = await startHttpApi({ ctx, repo, stats: this.stats, cameras, zoneName, evidence: this.evidence }));
    const evidenceUrl = http ? (e: { id: string }) => http.evidenceUrl(e.id) : undefined;
    const dispatchLog = log.child({ part: 'dispatch' });
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
      retry: (id) => this.events.runNow(id),
      link: () => uplink.connected,
      db,
      repo,
      topics,
      gatewayId: s.gateway.id,
      log: dispatchLog,
      roster,
      cameras,
      evidenceUrl,
      zoneName,
      config: dispatchConfig(s),
    });
    const eventsLog = log.child({ part: 'events' });
    const lifecycle = new EventLifecycle({
      repo,
      dispatches: this.dispatcher.dispatches,
      warnings: new WarningsRepo(db),
      uplink,
      topics,
      gatewayId: s.gateway.id,
      log: eventsLog,
      clock,
      bus: ctx.bus,
    });
    this.events = new EventService({
      lifecycle,
      repo,
      gatewayId: s.gateway.id,
      log: eventsLog,
      clock,
      warner,
      evidenceDir: files.evidence,
      evidenceMinFreeBytes: s.gateway.evidence_min_free_mb * 1e6,
      timeZone: s.gateway.timezone,
      cameras,
      rules,
      presence: (e) => this.pipelines.get(e.camera)?.presence(e) ?? 'unknown',
      policy,
      dispatch: this.dispatcher,
      evidenceUrl,
      faults,
    });

    // Every subscription is in place before the first connect: a persistent session may
    // hand over queued commands and officers' answers at once.
    subscribeOfficers(ctx, roster, () => this.events.wake('unassigned'));
    uplink.onLink((up) => this.events.link(up));
    subscribeOfficerReplies(ctx, roster, (id, r) => this.events.answer(id, r));
    const actions = commandActions({
      events: this.events,
      lifecycle,
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
          cameras: (n) => this.applyZones(n, rules, camRules),
        }),
    });
    this.commands = new Commands(ctx, actions);
    this.commands.start();
    let audio: Promise<AudioCache> | undefined;
    startConsole(http, {
      ctx,
      repo,
      dispatches: new DispatchesRepo(db),
      roster,
      speakerHealth: () => this.speakers!.health.list(),
      cameraHealth: () => this.cameraHealth(),
      latest: this.latest,
      evidence: this.evidence.repo,
      stats: (since, until) => this.stats.compute({ since, until }),
      audio: () => (audio ??= chooseTts(s.warnings, config.resolvePath).then((t) => new AudioCache(join(dataDir, 'audio'), t.engine))),
      actions,
    });
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
        onDetections: (f, d) => {
          this.evidence.recorder.saw(cam.id, this.ctx.clock.now(), d);
          this.latest.record(cam.id, f, d);
          this.o.onDetections?.(cam.id, f, d);
        },
        onTracks: (ts, tracks) => this.latest.tracks(cam.id, ts, tracks),
        ring: () => this.evidence.rings.get(cam.id)?.target() ?? null,
      });
      this.pipelines.set(cam.id, p);
    }
    this.evidence.start();
    this.events.resume();
    this.stats.start(s.stats.interval_s);
    for (const p of this.pipelines.values()) p.start();
    this.checkDisk();
    this.clockWatch = new ClockWatch(clock, (step, wall) => {
      const by = `${step > 0 ? 'forward' : 'back'} by ${formatSpan(Math.abs(step))}`;
      faults.notice(
        'clock_step',
        `clock stepped ${by}, now ${new Date(wall).toISOString()}: durations (rate limits, send budget) run on monotonic time; records after the step carry the new time`,
      );
    });
    this.timers.push(setInterval(() => this.checkClock(), 5000));
    this.timers.push(
      setInterval(() => {
        this.checkDisk();
        this.publishHealth();
      }, 30_000),
    );
    this.timers.push(setInterval(() => this.publishTelemetry(), 60_000));
    this.watchLoad();
    if (s.fleet.shards > 1) log.info({ shard, shards: s.fleet.shards, cameras: [...this.pipelines.keys()] }, 'camera shard');
    log.info({ cameras: this.pipelines.size, speakers: drivers.size, officers: s.officers.length, data: dataDir }, 'gateway running');
  }

  /**
   * A reload whose camera changes are only zones (drawn in the console, or edited by hand)
   * takes effect at once: each changed camera's rules are rebuilt and its rule engine
   * replaced (dwell timers there start again); its static-change zones follow (a new or
   * moved one learns its reference afresh). Any other camera change needs a restart.
   */
  private applyZones(next: Settings, rules: Map<string, ZoneRule>, camRules: Map<string, ZoneRule[]>): boolean {
    const now = this.o.config.settings;
    const bare = (c: CameraSettings) => JSON.stringify({ ...c, zones: null });
    if (now.cameras.length !== next.cameras.length || next.cameras.some((c, i) => bare(c) !== bare(now.cameras[i]))) return false;
    const changed = next.cameras.filter((c, i) => JSON.stringify(c.zones) !== JSON.stringify(now.cameras[i].zones));
    for (const cam of changed) {
      const rs = resolveZoneRules(cam, next.warnings.messages, next.gateway.timezone);
      for (const r of camRules.get(cam.id) ?? []) rules.delete(ruleKey(r.camera, r.zone, r.type));
      for (const r of rs) rules.set(ruleKey(r.camera, r.zone, r.type), r);
      camRules.set(cam.id, rs);
      this.pipelines.get(cam.id)?.setZones(cam, rs);
    }
    this.o.log.info(
      { cameras: changed.map((c) => c.id), static_change: changed.filter((c) => staticZones(c).length).map((c) => c.id) },
      'zones reloaded',
    );
    return true;
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
      routes: { onModelState: () => this.publishHealth() },
    });
  }

  /** Every 10 s: are the cameras analysed as often as they ask? If not, the platform is told once. */
  private watchLoad(): void {
    const { ctx } = this;
    const gw = this.o.config.settings.gateway.id;
    this.overload = new OverloadWatch({
      log: ctx.log,
      alert: (behind, message) => {
        const now = ctx.clock.now();
        const msgId = ulid(now);
        const payload = { ...alertPayload(gw, { kind: 'overloaded', event_id: null, behind, message }, now), msg_id: msgId };
        ctx.uplink.enqueue({
          msgId,
          topic: ctx.topics.alerts(),
          payload: JSON.stringify(payload),
          ...delivery('alerts'),
          priority: PRIORITY.event,
        });
        ctx.uplink.flush();
      },
    });
    let dropped = 0;
    // How long frames and timers wait for the event loop: where a slow warning's time went.
    const lag = monitorEventLoopDelay({ resolution: 20 });
    lag.enable();
    const t = setInterval(() => {
      const stats = this.runtime.stats();
      const total = Object.values(stats).reduce((a, q) => a + q.dropped, 0);
      const ms = (ns: number) => Math.round(ns / 1e6);
      this.o.log.debug(
        {
          loop_lag_ms: { p50: ms(lag.percentile(50)), p99: ms(lag.percentile(99)), max: ms(lag.max) },
          detector: Object.fromEntries(
            Object.entries(stats).map(([m, q]) => [
              m,
              { waiting: q.waiting, batch: q.meanBatch, infer_ms: q.inferMs, ipc_ms: q.ipcMs, dropped: q.dropped },
            ]),
          ),
        },
        'load',
      );
      lag.reset();
      this.overload.check(
        [...this.pipelines.values()].map((p) => p.load()),
        total - dropped,
        Date.now(),
      );
      dropped = total;
    }, 10_000);
    t.unref();
    this.timers.push(t);
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
      JSON.stringify(
        healthPayload(this.o.config.settings.gateway.id, h, this.ctx.clock.now(), this.pipelines.get(h.camera)?.camera.interval_s ?? 0),
      ),
    );
  }

  cameraHealth(): CameraHealth[] {
    return [...this.pipelines.values()].map((p) => this.withDetector(p.camera, p.health()));
  }

  private publishHealth(): void {
    try {
      for (const h of this.cameraHealth()) this.onHealth(h);
    } catch (e) {
      this.ctx.log.error({ err: e }, 'camera health failed');
    }
  }

  /** Every 5 s: a wall clock that jumped is logged and alerted. */
  checkClock(): void {
    this.clockWatch?.check();
  }

  /** Free space against the evidence floor: below it pictures stop, and /health says so. */
  checkDisk(): void {
    const floor = this.o.config.settings.gateway.evidence_min_free_mb * 1e6;
    const free = freeBytes(this.ctx.dataDir);
    if (free === null || floor <= 0) return;
    if (free < floor)
      this.ctx.faults.raise(
        'disk_low',
        `disk nearly full: ${(free / 1e6).toFixed(1)} MB free in ${this.ctx.dataDir}, below gateway.evidence_min_free_mb (${floor / 1e6} MB); evidence pictures are not written`,
      );
    else this.ctx.faults.clear('disk_low', `disk space back above the evidence floor (${(free / 1e6).toFixed(1)} MB free)`);
  }

  /** Every 60 s; a full disk is reported (faults), never thrown out of the timer. */
  publishTelemetry(): void {
    this.ctx.faults.guard('telemetry', () => this.telemetry());
  }

  private telemetry(): void {
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
      ...delivery('telemetry'),
      priority: PRIORITY.telemetry,
      expiresAt: now + expirySeconds('telemetry') * 1000,
    });
    this.ctx.uplink.flush();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.stats?.stop();
    await this.http?.stop();
    await Promise.all([...this.pipelines.values()].map((p) => p.stop()));
    await this.runtime?.stop();
    await this.events?.stop();
    await this.evidence?.stop();
    this.claims?.stop();
    await this.speakers?.stop();
    await this.ctx?.uplink.settle(2000);
    await this.ctx?.uplink.stop();
    await this.broker?.close();
    this.ctx?.db.close();
  }
}

function formatSpan(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s} s`;
}
