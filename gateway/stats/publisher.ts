/** Publishes the statistics, retained, every stats.interval_s (and after each stats command). */
import type { Context } from '../context.ts';
import { computeStats, type StatsWindow } from './stats.ts';
import type { StatsMessage } from '../api/schema/stats.ts';

export class StatsPublisher {
  private timer: NodeJS.Timeout | null = null;
  private readonly ctx: Context;

  constructor(ctx: Context) {
    this.ctx = ctx;
  }

  compute(window?: StatsWindow): StatsMessage {
    const s = this.ctx.config.settings.gateway;
    return computeStats(this.ctx.db, { gatewayId: s.id, timeZone: s.timezone, now: this.ctx.clock.now(), window });
  }

  /** All-time statistics to the retained stats topic. */
  publish(): StatsMessage {
    const report = this.compute();
    this.ctx.uplink.publishRetained(this.ctx.topics.stats(), JSON.stringify(report));
    return report;
  }

  start(intervalS: number): void {
    this.stop();
    if (intervalS <= 0) return;
    const run = () => {
      try {
        this.publish();
      } catch (e) {
        this.ctx.log.error({ err: e }, 'statistics failed');
      }
    };
    run();
    this.timer = setInterval(run, intervalS * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
