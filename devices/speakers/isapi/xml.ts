/**
 * Reads leaf values out of the small, flat documents ISAPI answers with (ResponseStatus,
 * TwoWayAudioChannel, TwoWayAudioSession). A tag scanner, not a general XML parser: it
 * walks tags in order, skips declarations, comments and CDATA, ignores namespace prefixes
 * (firmware varies between hikvision.com, isapi.com and std-cgi.org namespaces) and decodes
 * the predefined entities. That is all these documents need, without a dependency.
 */

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, e: string) => {
    if (e[0] !== '#') return ENTITIES[e] ?? whole;
    const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
  });
}

/** Each start tag in document order, with the text that follows it up to the next tag. */
function* tags(xml: string): Generator<{ name: string; text: string }> {
  let i = 0;
  while ((i = xml.indexOf('<', i)) !== -1) {
    if (xml.startsWith('<!--', i)) {
      i = xml.indexOf('-->', i);
      if (i === -1) return;
      continue;
    }
    if (xml.startsWith('<![CDATA[', i)) {
      i = xml.indexOf(']]>', i);
      if (i === -1) return;
      continue;
    }
    const end = xml.indexOf('>', i);
    if (end === -1) return;
    const first = xml[i + 1];
    if (first === '?' || first === '!' || first === '/') {
      i = end + 1;
      continue;
    }
    let n = i + 1;
    while (n < end && !' \t\r\n/'.includes(xml[n])) n++;
    const qname = xml.slice(i + 1, n);
    const next = xml.indexOf('<', end + 1);
    const selfClosing = xml[end - 1] === '/';
    const text = selfClosing ? '' : xml.slice(end + 1, next === -1 ? xml.length : next);
    yield { name: qname.slice(qname.indexOf(':') + 1), text: decode(text.trim()) };
    i = end + 1;
  }
}

/** The local name of the document element, e.g. 'ResponseStatus'. */
export function xmlRoot(xml: string): string | undefined {
  for (const t of tags(xml)) return t.name;
  return undefined;
}

/** The text of the first element with this local name, or undefined if there is none. */
export function xmlText(xml: string, name: string): string | undefined {
  for (const t of tags(xml)) if (t.name === name) return t.text;
  return undefined;
}
