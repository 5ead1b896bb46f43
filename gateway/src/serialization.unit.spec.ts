import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { serializerCompiler } from './serialization.js';

const compile = (schema: z.ZodType): ((data: unknown) => string) =>
  serializerCompiler({ schema, method: 'GET', url: '/x', httpStatus: '200' });
const compileWithZod = (schema: z.ZodType): ((data: unknown) => string) =>
  zodSerializerCompiler({ schema, method: 'GET', url: '/x', httpStatus: '200' });

describe('response serialisation', () => {
  const schema = z.object({
    boostId: z.string(),
    amount: z.number(),
    targetType: z.enum(['profile', 'gig', 'clan']),
    nextCursor: z.string().nullable(),
    note: z.string().optional(),
    details: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
    data: z.record(z.string(), z.unknown()),
    items: z.array(z.object({ id: z.string(), score: z.number() })),
  });
  const answer = {
    boostId: 'b-1',
    amount: 5,
    targetType: 'gig',
    nextCursor: null,
    details: { balance: 3, required: 5, why: 'x' },
    data: { nested: { deep: [1, 'two', null] }, 'odd "key"': '✓' },
    items: [{ id: 'a', score: 2, internal: 'dropped' }],
    // Not in the schema: never sent, as zod would strip it.
    _position: 42,
    secret: 'balanceAfter',
  };

  it('writes what zod would write, dropping fields the schema does not name', () => {
    const json = compile(schema)(answer);
    expect(JSON.parse(json)).toEqual(JSON.parse(compileWithZod(schema)(answer)));
    expect(JSON.parse(json)).not.toHaveProperty('secret');
    expect(JSON.parse(json)).not.toHaveProperty('_position');
    expect(JSON.parse(json).items[0]).toEqual({ id: 'a', score: 2 });
  });

  it('fails on an answer missing a required field instead of sending it half', () => {
    const { boostId: _missing, ...incomplete } = answer;
    expect(() => compile(schema)(incomplete)).toThrow(/boostId/);
  });

  it('falls back to zod for a schema JSON Schema cannot express', () => {
    const withDate = z.object({ at: z.date() });
    const at = new Date(0);
    expect(JSON.parse(compile(withDate)({ at }))).toEqual({ at: at.toISOString() });
  });
});
