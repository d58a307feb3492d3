/**
 * A small namespace-aware view over xml2js, the XML parser the `onvif` package itself
 * depends on. We resolve it through `onvif` rather than importing it by name, so we use
 * exactly the copy that package was installed with and declare no extra dependency.
 *
 * We re-parse the raw SOAP the package hands back instead of trusting its own objects:
 * its `linerase` turns "5.40" into 5.4 and token "1" into the number 1, and it throws
 * TypeErrors on legal but unexpected shapes (a GetProfilesResponse with no profiles).
 */
import { createRequire } from 'node:module';

interface RawAttr {
  value: string;
  local: string;
  uri: string;
}
interface RawNode {
  '#name': string;
  $ns?: { uri: string; local: string };
  $?: Record<string, RawAttr>;
  _?: string;
  $$?: RawNode[];
}
interface Xml2js {
  parseStringPromise(xml: string, options: object): Promise<Record<string, RawNode> | null>;
}

const requireHere = createRequire(import.meta.url);
const xml2js = createRequire(requireHere.resolve('onvif'))('xml2js') as Xml2js;

export interface XmlNode {
  /** Namespace URI ('' when none). Prefixes are gone: vendors pick their own. */
  ns: string;
  /** Local name, without prefix. */
  name: string;
  /** Attributes by local name (namespace declarations left out). */
  attrs: Record<string, string>;
  /** Text content, trimmed. */
  text: string;
  children: XmlNode[];
}

function convert(raw: RawNode): XmlNode {
  const attrs: Record<string, string> = {};
  for (const a of Object.values(raw.$ ?? {})) {
    if (a.uri === 'http://www.w3.org/2000/xmlns/' || a.local === 'xmlns') continue;
    attrs[a.local] = a.value;
  }
  return {
    ns: raw.$ns?.uri ?? '',
    name: raw.$ns?.local ?? raw['#name'],
    attrs,
    text: (raw._ ?? '').trim(),
    children: (raw.$$ ?? []).map(convert),
  };
}

/** Parses a document; throws on anything that is not well-formed XML. */
export async function parseXml(xml: string): Promise<XmlNode> {
  const doc = await xml2js.parseStringPromise(xml, {
    xmlns: true,
    explicitChildren: true,
    preserveChildrenOrder: true,
    explicitCharkey: true,
  });
  const root = doc ? Object.values(doc)[0] : undefined;
  if (!root) throw new Error('empty XML document');
  return convert(root);
}

/** First child with this local name (and namespace, when given). */
export function child(node: XmlNode | undefined, name: string, ns?: string): XmlNode | undefined {
  return node?.children.find((c) => c.name === name && (ns === undefined || c.ns === ns));
}

export function children(node: XmlNode | undefined, name: string): XmlNode[] {
  return node?.children.filter((c) => c.name === name) ?? [];
}

/** Follows a path of local names; undefined as soon as one step is missing. */
export function at(node: XmlNode | undefined, ...names: string[]): XmlNode | undefined {
  let cur = node;
  for (const n of names) cur = child(cur, n);
  return cur;
}

export function textAt(node: XmlNode | undefined, ...names: string[]): string {
  return at(node, ...names)?.text ?? '';
}

/**
 * The local part of a QName value such as "ter:NotAuthorized". Devices often use
 * prefixes they never declare (seen in WS-Discovery Types), so we match on local names.
 */
export function localPart(qname: string): string {
  const i = qname.lastIndexOf(':');
  return i >= 0 ? qname.slice(i + 1) : qname;
}

export interface Envelope {
  header?: XmlNode;
  body: XmlNode;
}

/** Parses a SOAP 1.2 (or, leniently, 1.1) envelope. */
export async function parseEnvelope(xml: string): Promise<Envelope> {
  const root = await parseXml(xml);
  if (root.name !== 'Envelope') throw new Error(`not a SOAP envelope (root <${root.name}>)`);
  const body = child(root, 'Body');
  if (!body) throw new Error('SOAP envelope without Body');
  return { header: child(root, 'Header'), body };
}
