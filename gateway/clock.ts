/** Time comes from here, so tests can run the lifecycle on a clock they control. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
