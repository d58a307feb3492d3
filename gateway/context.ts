/**
 * The one object every part receives: settings, logger, clock, bus, store, MQTT. There
 * are no module-level singletons; two gateways can run in one process (the tests do).
 */
import type { LoadedSettings } from './settings/load.ts';
import type { Logger } from './log.ts';
import type { Clock } from './clock.ts';
import type { Bus } from './bus.ts';
import type { Db } from './store/db.ts';
import type { Topics } from './api/topics.ts';
import type { Uplink } from './uplink/uplink.ts';
import type { Faults } from './faults.ts';

export interface Context {
  config: LoadedSettings;
  log: Logger;
  clock: Clock;
  bus: Bus;
  db: Db;
  topics: Topics;
  uplink: Uplink;
  dataDir: string;
  version: string;
  /** Box-wide conditions (disk full, clock step): alerted, and named by /health. */
  faults: Faults;
}
