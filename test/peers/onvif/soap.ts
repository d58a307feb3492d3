/**
 * SOAP plumbing for the fake ONVIF device: fills the response templates kept in
 * test/fixtures/onvif/ and parses requests with a real XML parser (xml2js, reached
 * through the `onvif` package that depends on it).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/onvif/', import.meta.url));

const cache = new Map<string, string>();
function template(name: string): string {
  let t = cache.get(name);
  if (t === undefined) {
    t = readFileSync(`${FIXTURES}${name}.xml`, 'utf8').trim();
    cache.set(name, t);
  }
  return t;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** `{{key}}` gets an escaped value, `{{{key}}}` raw XML. A missing key is a bug in the fake. */
export function render(name: string, vars: Record<string, string | number> = {}): string {
  return template(name).replace(/\{\{(\{?)(\w+)\}?\}\}/g, (_m, raw: string, key: string) => {
    if (!(key in vars)) throw new Error(`template ${name}: no value for ${key}`);
    const v = String(vars[key]);
    return raw ? v : escapeXml(v);
  });
}

export function envelope(body: string): string {
  return render('envelope', { body });
}

export interface FaultSpec {
  code: 'Sender' | 'Receiver' | 'MustUnderstand';
  /** e.g. ['ter:InvalidArgVal', 'ter:NoProfile'], outermost first. */
  subcodes?: string[];
  reason: string;
  detail?: string;
}

export function fault(f: FaultSpec): string {
  const subcode = (f.subcodes ?? []).reduceRight(
    (inner, v) => `<env:Subcode><env:Value>${escapeXml(v)}</env:Value>${inner}</env:Subcode>`,
    '',
  );
  return envelope(render('Fault', { code: f.code, subcode, reason: f.reason, detail: f.detail ?? f.reason }));
}

// ---- parsing -------------------------------------------------------------------------

export interface Node {
  ns: string;
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: Node[];
}

interface Raw {
  '#name': string;
  $ns?: { uri: string; local: string };
  $?: Record<string, { value: string; local: string; uri: string }>;
  _?: string;
  $$?: Raw[];
}
const xml2js = createRequire(createRequire(import.meta.url).resolve('onvif'))('xml2js') as {
  parseStringPromise(xml: string, o: object): Promise<Record<string, Raw> | null>;
};

const toNode = (r: Raw): Node => ({
  ns: r.$ns?.uri ?? '',
  name: r.$ns?.local ?? r['#name'],
  attrs: Object.fromEntries(
    Object.values(r.$ ?? {})
      .filter((a) => a.uri !== 'http://www.w3.org/2000/xmlns/')
      .map((a) => [a.local, a.value]),
  ),
  text: (r._ ?? '').trim(),
  children: (r.$$ ?? []).map(toNode),
});

export async function parse(xml: string): Promise<Node> {
  const doc = await xml2js.parseStringPromise(xml, {
    xmlns: true,
    explicitChildren: true,
    preserveChildrenOrder: true,
    explicitCharkey: true,
  });
  const root = doc && Object.values(doc)[0];
  if (!root) throw new Error('empty document');
  return toNode(root);
}

export function kid(n: Node | undefined, ...path: string[]): Node | undefined {
  for (const p of path) n = n?.children.find((c) => c.name === p);
  return n;
}

export const SOAP_NS = 'http://www.w3.org/2003/05/soap-envelope';
export const WSSE_NS = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
