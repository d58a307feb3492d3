/**
 * What a warning says. Per violation type the catalogue gives a polite first wording and a
 * firmer repeat; staff override either, or give recorded clips, per site (warnings.messages),
 * per camera (cameras[].messages) and per zone rule (message, firm_message, clip, firm_clip).
 * The most specific layer wins field by field. Texts may name the place: {place}, {camera},
 * {zone} and {type_zh} are filled in when the warning is played.
 */
import { CATALOGUE, type ViolationType } from '../rules/catalogue.ts';
import type { MessageOverrideT } from '../settings/schema.ts';

export interface MessageSpec {
  text: string;
  firm: string;
  /** Recorded clips, preferred over the text when given (paths as configured). */
  clip?: string;
  firmClip?: string;
}

export const VARIABLES = ['place', 'camera', 'zone', 'type_zh'] as const;
export type Variables = Record<(typeof VARIABLES)[number], string>;

type Layer = MessageOverrideT | { text?: string; firm?: string; clip?: string; firm_clip?: string } | undefined;

/** Merges layers from the least to the most specific over the catalogue's defaults. */
export function resolveMessage(type: ViolationType, layers: Layer[]): MessageSpec {
  const m: MessageSpec = { text: CATALOGUE[type].message, firm: CATALOGUE[type].firm };
  for (const layer of layers) {
    if (layer === undefined) continue;
    if (typeof layer === 'string') {
      // A bare text replaces the first wording only; the firm repeat stays the catalogue's
      // unless that layer names one.
      m.text = layer;
      m.clip = undefined;
      continue;
    }
    if (layer.text !== undefined) (m.text = layer.text), (m.clip = undefined);
    if (layer.firm !== undefined) (m.firm = layer.firm), (m.firmClip = undefined);
    if (layer.clip !== undefined) m.clip = layer.clip;
    if (layer.firm_clip !== undefined) m.firmClip = layer.firm_clip;
  }
  return m;
}

/** Fills {name} variables; an empty value leaves no gap of doubled punctuation. */
export function render(template: string, vars: Partial<Variables>): string {
  return template
    .replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? ((vars as Record<string, string>)[name] ?? '') : whole))
    .replace(/^[，,\s]+/, '');
}

/** Variables a template names that do not exist, for `gateway check`. */
export function unknownVariables(template: string): string[] {
  return [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).filter((n) => !(VARIABLES as readonly string[]).includes(n));
}
