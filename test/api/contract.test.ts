/**
 * The AsyncAPI document itself: it parses with @asyncapi/parser without errors, it is
 * what the code's schemas generate (no drift), and its examples match their schemas.
 * That every published message matches it is checked where the messages are made:
 * test/spine.test.ts, test/dispatch/dispatch.test.ts, test/api/commands.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadContract } from '../helpers/contract.ts';
import { ASYNCAPI_FILE, renderAsyncApi } from '../../scripts/asyncapi.ts';
import { EXAMPLES } from '../../gateway/api/examples.ts';
import { COMMANDS } from '../../gateway/api/schema/commands.ts';

describe('the AsyncAPI document (docs/asyncapi.yaml)', () => {
  it('parses as AsyncAPI 3 without errors or warnings', async () => {
    const c = await loadContract('township');
    expect(c.diagnostics.filter((d) => d.severity <= 1)).toEqual([]);
  });

  it('is up to date with the schemas in gateway/api/schema (node --import tsx scripts/asyncapi.ts)', () => {
    expect(readFileSync(ASYNCAPI_FILE, 'utf8')).toBe(renderAsyncApi());
  });

  it('documents every command, every channel with QoS, and every payload with a schema', () => {
    const doc = parse(readFileSync(ASYNCAPI_FILE, 'utf8'));
    for (const name of Object.keys(COMMANDS)) {
      const ch = Object.values(doc.channels as Record<string, { address: string }>).find((c) => c.address.endsWith(`/commands/${name}`));
      expect(ch, name).toBeDefined();
    }
    for (const [key, op] of Object.entries(doc.operations as Record<string, { bindings: { mqtt: { qos: number } } }>))
      expect([0, 1], key).toContain(op.bindings.mqtt.qos);
    for (const [name, m] of Object.entries(doc.components.messages as Record<string, { payload: { $ref: string } }>)) {
      expect(doc.components.schemas[m.payload.$ref.split('/').at(-1)!], name).toBeDefined();
    }
  });

  it('has examples that match their schemas', async () => {
    const c = await loadContract('township');
    for (const [name, list] of Object.entries(EXAMPLES)) for (const ex of list) expect(c.checkMessage(name, ex), name).toEqual([]);
  });

  it('rejects what it should: a wrong event message, a wrong officer answer', async () => {
    const c = await loadContract('township');
    const [event] = EXAMPLES.Event as Record<string, unknown>[];
    expect(c.check('township/v1/gateways/gw/events', { ...event, seq: 0 })).not.toEqual([]);
    expect(c.check('township/v1/gateways/gw/events', { ...event, surprise: 1 })).not.toEqual([]);
    expect(c.check('township/v1/gateways/gw/nowhere', {})).not.toEqual([]);
    expect(c.checkMessage('OfficerReply', { dispatch_id: 'x', action: 'maybe' })).toHaveLength(2);
  });
});
