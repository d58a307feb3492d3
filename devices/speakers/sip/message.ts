/**
 * SIP messages (RFC 3261 section 7): a small parser and writer. Header names are kept in
 * their canonical long form (compact forms such as `v`, `i`, `f` are expanded on read), a
 * header that appears several times keeps every value in order, and the body is cut at
 * Content-Length as the RFC asks for datagrams.
 */
export interface SipMessage {
  /** Requests have a method and a URI; responses a status and a reason phrase. */
  method?: string;
  uri?: string;
  status?: number;
  reason?: string;
  headers: Headers;
  body: Buffer;
}

/** RFC 3261 section 7.3.3 and the IANA compact forms the speakers we met use. */
const COMPACT: Record<string, string> = {
  i: 'Call-ID',
  m: 'Contact',
  e: 'Content-Encoding',
  l: 'Content-Length',
  c: 'Content-Type',
  f: 'From',
  s: 'Subject',
  k: 'Supported',
  t: 'To',
  v: 'Via',
  o: 'Event',
  u: 'Allow-Events',
  r: 'Refer-To',
  a: 'Accept-Contact',
};
const CANONICAL = new Map(
  [
    'Call-ID',
    'CSeq',
    'WWW-Authenticate',
    'Proxy-Authenticate',
    'Proxy-Authorization',
    'Record-Route',
    'Max-Forwards',
    'User-Agent',
    'MIME-Version',
  ].map((n) => [n.toLowerCase(), n]),
);

export function canonicalName(name: string): string {
  const n = name.trim();
  if (n.length === 1) return COMPACT[n.toLowerCase()] ?? n;
  return CANONICAL.get(n.toLowerCase()) ?? n.toLowerCase().replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
}

/** Headers in order; names are canonical, so lookups are case- and compact-form-blind. */
export class Headers {
  readonly list: [string, string][] = [];

  constructor(init: [string, string][] = []) {
    for (const [n, v] of init) this.add(n, v);
  }

  add(name: string, value: string): this {
    this.list.push([canonicalName(name), value]);
    return this;
  }

  set(name: string, value: string): this {
    this.delete(name);
    return this.add(name, value);
  }

  delete(name: string): void {
    const n = canonicalName(name);
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i][0] === n) this.list.splice(i, 1);
  }

  get(name: string): string | undefined {
    const n = canonicalName(name);
    return this.list.find(([k]) => k === n)?.[1];
  }

  /** Every value of a header; comma-separated lists (Via, Route, ...) are split, respecting quotes and <>. */
  all(name: string, split = true): string[] {
    const n = canonicalName(name);
    const values = this.list.filter(([k]) => k === n).map(([, v]) => v);
    return split ? values.flatMap(splitList) : values;
  }
}

/** Splits "a, b" at commas that are outside quotes and angle brackets. */
export function splitList(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let angle = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (quoted && c === '\\') (cur += c + (v[i + 1] ?? '')), i++;
    else if (c === '"') (quoted = !quoted), (cur += c);
    else if (!quoted && c === '<') angle++, (cur += c);
    else if (!quoted && c === '>') angle--, (cur += c);
    else if (c === ',' && !quoted && angle <= 0) out.push(cur.trim()), (cur = '');
    else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

export class SipParseError extends Error {}

export function parseMessage(buf: Buffer): SipMessage {
  const split = buf.indexOf('\r\n\r\n');
  const lf = split < 0 ? buf.indexOf('\n\n') : -1; // bare LF line ends, tolerated as RFC 3261 7.5 allows
  const headEnd = split >= 0 ? split : lf;
  if (headEnd < 0) throw new SipParseError('no end of headers');
  const bodyStart = headEnd + (split >= 0 ? 4 : 2);
  const lines = buf.subarray(0, headEnd).toString('utf8').split(/\r?\n/);
  while (lines.length && lines[0] === '') lines.shift(); // keep-alive CRLFs before a message
  const start = lines.shift() ?? '';
  const msg: SipMessage = { headers: new Headers(), body: Buffer.alloc(0) };
  const res = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/i.exec(start);
  const req = /^([A-Za-z]+)\s+(\S+)\s+SIP\/2\.0$/i.exec(start);
  if (res) [msg.status, msg.reason] = [Number(res[1]), res[2]];
  else if (req) [msg.method, msg.uri] = [req[1].toUpperCase(), req[2]];
  else throw new SipParseError(`not a SIP start line: "${start.slice(0, 60)}"`);
  let last: [string, string] | undefined;
  for (const line of lines) {
    if (/^[ \t]/.test(line) && last) {
      last[1] += ` ${line.trim()}`; // folded continuation
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError(`bad header line "${line.slice(0, 60)}"`);
    msg.headers.add(line.slice(0, colon), line.slice(colon + 1).trim());
    last = msg.headers.list.at(-1);
  }
  const declared = msg.headers.get('Content-Length');
  const rest = buf.subarray(bodyStart);
  if (declared !== undefined) {
    const n = Number(declared);
    if (!Number.isInteger(n) || n < 0 || n > rest.length)
      throw new SipParseError(`Content-Length ${declared} but ${rest.length} body bytes`);
    msg.body = rest.subarray(0, n);
  } else msg.body = rest;
  return msg;
}

export function writeMessage(m: SipMessage): Buffer {
  const start = m.method ? `${m.method} ${m.uri} SIP/2.0` : `SIP/2.0 ${m.status} ${m.reason ?? ''}`.trimEnd();
  const lines = [
    start,
    ...m.headers.list.filter(([k]) => k !== 'Content-Length').map(([k, v]) => `${k}: ${v}`),
    `Content-Length: ${m.body.length}`,
  ];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), m.body]);
}

/** A name-addr or addr-spec with its header parameters: `"Gate" <sip:a@b>;tag=x`. */
export interface NameAddr {
  display: string;
  uri: string;
  params: Record<string, string>;
}

/** Splits `;a=b;c` into lower-case names and raw values (quotes removed). */
export function parseParams(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of splitOutsideQuotes(s, ';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    const value =
      eq < 0
        ? ''
        : p
            .slice(eq + 1)
            .trim()
            .replace(/^"(.*)"$/, '$1');
    out[name] = value;
  }
  return out;
}

function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of s) {
    if (c === '"') quoted = !quoted;
    if (c === sep && !quoted) out.push(cur), (cur = '');
    else cur += c;
  }
  out.push(cur);
  return out;
}

export function parseNameAddr(v: string): NameAddr {
  const lt = v.indexOf('<');
  if (lt >= 0) {
    const gt = v.indexOf('>', lt);
    if (gt < 0) throw new SipParseError(`unclosed <> in "${v}"`);
    return {
      display: v
        .slice(0, lt)
        .trim()
        .replace(/^"(.*)"$/, '$1'),
      uri: v.slice(lt + 1, gt),
      params: parseParams(v.slice(gt + 1)),
    };
  }
  // addr-spec without <>: parameters after the URI belong to the header (RFC 3261 20.10).
  const semi = v.indexOf(';');
  return { display: '', uri: (semi < 0 ? v : v.slice(0, semi)).trim(), params: parseParams(semi < 0 ? '' : v.slice(semi)) };
}

export interface Via {
  transport: string;
  host: string;
  port?: number;
  params: Record<string, string>;
}

export function parseVia(v: string): Via {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+([^;\s]+)(.*)$/i.exec(v.trim());
  if (!m) throw new SipParseError(`bad Via "${v}"`);
  const hp = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(m[2]);
  return { transport: m[1].toUpperCase(), host: hp?.[1] ?? m[2], port: hp?.[2] ? Number(hp[2]) : undefined, params: parseParams(m[3]) };
}

export function parseCSeq(v: string | undefined): { seq: number; method: string } | undefined {
  const m = /^\s*(\d+)\s+([A-Za-z]+)\s*$/.exec(v ?? '');
  return m ? { seq: Number(m[1]), method: m[2].toUpperCase() } : undefined;
}

/** The parts of a sip: URI the driver routes on. */
export interface SipUri {
  user?: string;
  password?: string;
  host: string;
  port?: number;
  params: Record<string, string>;
}

export function parseSipUri(uri: string): SipUri {
  const m = /^sips?:(?:([^:@;?]+)(?::([^@;?]*))?@)?(\[[^\]]+\]|[^:;?]+)(?::(\d+))?([^?]*)/i.exec(uri.trim());
  if (!m) throw new SipParseError(`not a sip: URI "${uri}"`);
  return {
    user: m[1] ? decodeURIComponent(m[1]) : undefined,
    password: m[2] !== undefined ? decodeURIComponent(m[2]) : undefined,
    host: m[3].replace(/^\[|\]$/g, ''),
    port: m[4] ? Number(m[4]) : undefined,
    params: parseParams(m[5]),
  };
}
