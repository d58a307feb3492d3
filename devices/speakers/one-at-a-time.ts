/**
 * A speaker plays one message at a time. A second play() while one runs is refused as
 * `busy` (the gateway queues per speaker, so this only happens with two gateways or a
 * manual test), and close() stops the message under way and waits until the device has
 * been let go (channel closed, call hung up).
 */
import { DeviceError } from '../errors.ts';
import type { PlayResult } from './types.ts';

export class OneAtATime {
  #current?: { stop: AbortController; done: Promise<PlayResult> };
  readonly #id: string;

  constructor(id: string) {
    this.#id = id;
  }

  run(signal: AbortSignal | undefined, play: (signal: AbortSignal) => Promise<PlayResult>): Promise<PlayResult> {
    if (this.#current) return Promise.reject(new DeviceError('busy', this.#id, 'already playing a message'));
    const stop = new AbortController();
    const done = play(signal ? AbortSignal.any([signal, stop.signal]) : stop.signal);
    const current = { stop, done };
    this.#current = current;
    return done.finally(() => {
      if (this.#current === current) this.#current = undefined;
    });
  }

  async stop(): Promise<void> {
    const c = this.#current;
    if (!c) return;
    c.stop.abort(new DOMException(`${this.#id} closed`, 'AbortError'));
    await c.done.catch(() => undefined);
  }
}
