/**
 * The MQTT contract as the integrator sees it: docs/asyncapi.yaml, loaded with
 * @asyncapi/parser. `check` says whether a message the gateway published is documented
 * and valid: its topic matches a channel the gateway sends on, and its payload matches
 * one of that channel's message schemas.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from '@asyncapi/parser';
import type { ValidateFunction } from 'ajv';
import { ajv } from '../../gateway/validate.ts';
import { ROOT } from '../../gateway/paths.ts';

export interface Contract {
  /** Errors for one message; [] when it is fine. `incoming` for topics the gateway only receives. */
  check(topic: string, payload: unknown): string[] | 'incoming';
  /** Validates a payload against one named message (e.g. a reply sent to a response topic). */
  checkMessage(name: string, payload: unknown): string[];
  diagnostics: { severity: number; code: string | number; message: string; path: string }[];
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export async function loadContract(prefix: string): Promise<Contract> {
  const text = readFileSync(join(ROOT, 'docs', 'asyncapi.yaml'), 'utf8');
  const { document, diagnostics } = await new Parser().parse(text);
  const diags = diagnostics.map((d) => ({ severity: d.severity as number, code: d.code, message: d.message, path: d.path.join('.') }));
  if (!document) throw new Error(`docs/asyncapi.yaml does not parse: ${diags.map((d) => d.message).join('; ')}`);
  const byName = new Map<string, ValidateFunction>();
  const channels: { re: RegExp; send: boolean; validators: [string, ValidateFunction][] }[] = [];
  for (const ch of document.channels().all()) {
    const address = ch.address()!;
    const re = new RegExp(
      `^${escapeRe(address)
        .replace('\\{prefix\\}', escapeRe(prefix))
        .replace(/\\\{\w+\\\}/g, '[^/]+')}$`,
    );
    const validators = ch
      .messages()
      .all()
      .map((m): [string, ValidateFunction] => {
        const name = m.name() ?? m.id();
        if (!byName.has(name)) byName.set(name, ajv.compile(m.payload()!.json() as object));
        return [name, byName.get(name)!];
      });
    const send = ch
      .operations()
      .all()
      .some((op) => op.action() === 'send');
    channels.push({ re, send, validators });
  }
  const errorsOf = (v: ValidateFunction, payload: unknown) =>
    v(payload) ? [] : (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
  return {
    diagnostics: diags,
    check(topic, payload) {
      const ch = channels.find((c) => c.re.test(topic));
      if (!ch) return [`${topic}: no channel in docs/asyncapi.yaml`];
      if (!ch.send) return 'incoming';
      const all = ch.validators.map(([name, v]) => [name, errorsOf(v, payload)] as const);
      if (all.some(([, e]) => e.length === 0)) return [];
      return all.flatMap(([name, e]) => e.map((x) => `${topic} as ${name}: ${x}`));
    },
    checkMessage(name, payload) {
      const v = byName.get(name);
      if (!v) return [`no message ${name}`];
      return errorsOf(v, payload);
    },
  };
}
