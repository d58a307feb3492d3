/**
 * The typed event bus between stages. Hot-path data (frames, detections) does not go
 * through here; the bus carries what several parts care about: health, lifecycle.
 */
import { EventEmitter } from 'node:events';
import type { CameraHealth } from './capture/health.ts';
import type { EventRecord, EventState } from './core/event.ts';
import type { WarningOutcome } from './alert/types.ts';

export interface BusEvents {
  'camera.health': [CameraHealth];
  'event.transition': [{ event: EventRecord; from: EventState | null; to: EventState; at: number }];
  'warning.outcome': [WarningOutcome];
}

export class Bus extends EventEmitter<BusEvents> {
  constructor() {
    super({ captureRejections: true });
    this.setMaxListeners(100);
  }
}
