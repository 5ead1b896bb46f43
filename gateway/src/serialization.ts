import fastJson from 'fast-json-stringify';
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

type SerializerCompiler = Parameters<typeof zodSerializerCompiler>[0];

/**
 * Response serialisation from the routes' zod schemas, compiled once per route with
 * fast-json-stringify (what Fastify itself uses for JSON-schema routes): the schema's JSON Schema
 * form decides which fields go out, as zod's own `encode` would, at a fraction of its cost per
 * response (it is on every command's path). A schema JSON Schema cannot express falls back to zod.
 *
 * Unlike zod, fast-json-stringify coerces a value of the wrong type instead of failing (a missing
 * required field still fails). Responses are built by this code from typed values, never taken from
 * clients; the route tests assert every answer's exact shape.
 */
export const serializerCompiler = (route: SerializerCompiler): ((data: unknown) => string) => {
  const jsonSchema = jsonSchemaOf(route.schema);
  return jsonSchema === undefined ? zodSerializerCompiler(route) : fastJson(jsonSchema);
};

/** A zod schema's JSON Schema for the answer it describes, or undefined if it has none. */
const jsonSchemaOf = (schema: unknown): Record<string, unknown> | undefined => {
  if (!(schema instanceof z.ZodType)) return undefined;
  try {
    const { $schema: _draft, ...plain } = z.toJSONSchema(schema, { io: 'output', target: 'draft-07', unrepresentable: 'throw' });
    return plain;
  } catch {
    return undefined;
  }
};
