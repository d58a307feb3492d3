/**
 * The MQTT topics of one gateway: the channel table's addresses (api/channels.ts) with the
 * prefix and the gateway id filled in. No topic is spelled here; the table's
 * AsyncAPI document (docs/asyncapi.yaml) documents the same names.
 *
 * Officer topics are not under a gateway: in the "1+3" arrangement an officer serves
 * several towns, so several gateways follow the same phone.
 */
import { CHANNELS, COMMAND_ADDRESS, GATEWAY, OFFICERS, ROOT, type AnyChannel, type ChannelKey } from './channels.ts';

export { CONTRACT_VERSION } from './channels.ts';

type Params = Record<string, string>;

export class Topics {
  readonly root: string;
  readonly gw: string;
  readonly officersRoot: string;
  private readonly prefix: string;
  private readonly gatewayId: string;

  constructor(prefix: string, gatewayId: string) {
    this.prefix = prefix;
    this.gatewayId = gatewayId;
    this.root = this.fill(ROOT, {});
    this.gw = this.fill(GATEWAY, {});
    this.officersRoot = this.fill(OFFICERS, {});
  }

  /** A template with the prefix, this gateway's id (unless `params` names another) and `params` filled in. */
  private fill(template: string, params: Params): string {
    const all: Params = { gateway: this.gatewayId, ...params, prefix: this.prefix };
    return template.replace(/\{(\w+)\}/g, (_m, p: string) => {
      if (all[p] === undefined) throw new Error(`topic ${template}: no value for {${p}}`);
      return all[p];
    });
  }

  /** A channel's topic. */
  address(key: ChannelKey, params: Params = {}): string {
    return this.fill(CHANNELS[key].address, params);
  }

  /** A channel's topic filter: parameters not given are "+" (the gateway is this one unless given). */
  filter(key: ChannelKey, params: Params = {}): string {
    return this.fill(
      CHANNELS[key].address.replace(/\{(?!prefix\}|gateway\})(\w+)\}/g, (_m, p: string) => params[p] ?? '+'),
      params,
    );
  }

  /**
   * The channel a topic or a topic filter belongs to ("+" and "#" stand for one parameter),
   * or null. A reply to a response topic has no channel of its own here.
   */
  channelOf(topic: string): AnyChannel | null {
    const root = `${this.root}/`;
    if (!topic.startsWith(root)) return null;
    const got = topic.slice(root.length).split('/');
    for (const [key, c] of Object.entries(CHANNELS)) {
      if (!c.address.startsWith(`${ROOT}/`)) continue;
      const want = c.address.slice(ROOT.length + 1).split('/');
      const rest = got.at(-1) === '#';
      if (rest ? want.length < got.length : want.length !== got.length) continue;
      const same = (g: string, w: string) => g === w || g === '+' || g === '#' || (/^\{\w+\}$/.test(w) && g !== '');
      if (got.every((g, i) => same(g, want[i]))) return key as AnyChannel;
    }
    return null;
  }

  /** The parameters of a topic on a channel (officer, gateway, ...), or null when it is not on it. */
  paramsOf(key: ChannelKey, topic: string): Params | null {
    const names: string[] = [];
    const re = CHANNELS[key].address
      .split(/(\{\w+\})/)
      .map((part) => {
        const p = /^\{(\w+)\}$/.exec(part)?.[1];
        if (p === 'prefix') return escapeRe(this.prefix);
        if (!p) return escapeRe(part);
        names.push(p);
        return '([^/]+)';
      })
      .join('');
    const m = new RegExp(`^${re}$`).exec(topic);
    return m ? Object.fromEntries(names.map((n, i) => [n, m[i + 1]])) : null;
  }

  status = () => this.address('status');
  events = () => this.address('events');
  eventState = (event: string) => this.address('eventState', { event });
  warnings = () => this.address('warnings');
  dispatches = () => this.address('dispatches');
  alerts = () => this.address('alerts');
  cameraHealth = (camera: string) => this.address('cameraHealth', { camera });
  speakerHealth = (speaker: string) => this.address('speakerHealth', { speaker });
  telemetry = () => this.address('telemetry');
  command = (command: string) => this.fill(COMMAND_ADDRESS, { command });
  commands = () => this.fill(COMMAND_ADDRESS, { command: '+' });
  /** Every command, also one whose name has a "/" in it (it is answered as unknown). */
  commandsAll = () => this.fill(COMMAND_ADDRESS, { command: '#' });
  /** What every reply topic starts with (without the trailing "/"). */
  replies = () => this.address('replies', { command: '' }).slice(0, -1);
  reply = (command: string) => this.address('replies', { command });
  stats = () => this.address('stats');
  officerState = (officer: string) => this.address('officerState', { officer });
  officerDispatch = (officer: string) => this.address('officerDispatch', { officer });
  officerReply = (officer: string) => this.address('officerReply', { officer });

  /** The officer id in an officers/{id}/... topic, or null. */
  officerOf(topic: string): string | null {
    if (!topic.startsWith(`${this.officersRoot}/`)) return null;
    return topic.slice(this.officersRoot.length + 1).split('/')[0] || null;
  }
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
