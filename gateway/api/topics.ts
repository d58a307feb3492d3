/**
 * The MQTT topic tree: one place that names every topic the gateway uses. The contract
 * (docs/asyncapi.yaml) documents the same names.
 *
 *   {prefix}/v1/gateways/{gw}/status                      retained birth / death
 *   {prefix}/v1/gateways/{gw}/events                      QoS 1: confirmed events
 *   {prefix}/v1/gateways/{gw}/events/{event}/state        QoS 1: every lifecycle transition
 *   {prefix}/v1/gateways/{gw}/warnings                    QoS 1: every warning attempt
 *   {prefix}/v1/gateways/{gw}/dispatches                  QoS 1: dispatches, for the platform
 *   {prefix}/v1/gateways/{gw}/alerts                      QoS 1: things a person must act on
 *   {prefix}/v1/gateways/{gw}/cameras/{camera}/health     retained
 *   {prefix}/v1/gateways/{gw}/speakers/{speaker}/health   retained
 *   {prefix}/v1/gateways/{gw}/telemetry                   QoS 0
 *   {prefix}/v1/gateways/{gw}/stats                       retained: statistics, periodically
 *   {prefix}/v1/gateways/{gw}/commands/{command}          in: from the platform
 *   {prefix}/v1/gateways/{gw}/replies/{command}           out: command replies (without an MQTT 5 response topic)
 *   {prefix}/v1/officers/{officer}/state                  in: position and duty, from phones
 *   {prefix}/v1/officers/{officer}/dispatch               out: a job for that officer
 *   {prefix}/v1/officers/{officer}/reply                  in: accept / decline / arrived / closed
 *
 * Officer topics are not under a gateway: in the "1+3" arrangement an officer serves
 * several towns, so several gateways follow the same phone.
 */
export const CONTRACT_VERSION = 'v1';

export class Topics {
  readonly root: string;
  readonly gw: string;
  readonly officersRoot: string;

  constructor(prefix: string, gatewayId: string) {
    this.root = `${prefix}/${CONTRACT_VERSION}`;
    this.gw = `${this.root}/gateways/${gatewayId}`;
    this.officersRoot = `${this.root}/officers`;
  }

  status = () => `${this.gw}/status`;
  events = () => `${this.gw}/events`;
  eventState = (eventId: string) => `${this.gw}/events/${eventId}/state`;
  warnings = () => `${this.gw}/warnings`;
  dispatches = () => `${this.gw}/dispatches`;
  alerts = () => `${this.gw}/alerts`;
  cameraHealth = (camera: string) => `${this.gw}/cameras/${camera}/health`;
  speakerHealth = (speaker: string) => `${this.gw}/speakers/${speaker}/health`;
  telemetry = () => `${this.gw}/telemetry`;
  command = (name: string) => `${this.gw}/commands/${name}`;
  commands = () => `${this.gw}/commands/+`;
  replies = () => `${this.gw}/replies`;
  reply = (command: string) => `${this.gw}/replies/${command}`;
  commandsAll = () => `${this.gw}/commands/#`;
  stats = () => `${this.gw}/stats`;
  officerState = (officer: string) => `${this.officersRoot}/${officer}/state`;
  officerDispatch = (officer: string) => `${this.officersRoot}/${officer}/dispatch`;
  officerReply = (officer: string) => `${this.officersRoot}/${officer}/reply`;

  /** The officer id in an officers/{id}/... topic, or null. */
  officerOf(topic: string): string | null {
    if (!topic.startsWith(`${this.officersRoot}/`)) return null;
    return topic.slice(this.officersRoot.length + 1).split('/')[0] || null;
  }
}
