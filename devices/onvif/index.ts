/** ONVIF cameras: WS-Discovery, device/profile/stream reading, stream selection. */
export { probe, parseTarget, type OnvifDevice, type OnvifProfile, type ProbeOptions } from './client.ts';
export {
  discover,
  readScopes,
  type DiscoveredDevice,
  type DiscoverOptions,
  type DiscoveryResult,
  type ProbedInterface,
} from './discovery.ts';
export { chooseStreams, selectAnalytics, selectMain, type SelectOptions, type StreamChoice } from './select.ts';
export type { AuthMode } from './session.ts';
