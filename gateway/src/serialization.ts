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
  const schema = route.schema as unknown;
  if (schema instanceof z.ZodType) {
    let jsonSchema: Record<string, unknown> | undefined;
    try {
      jsonSchema = z.toJSONSchema(schema, { io: 'output', target: 'draft-07', unrepresentable: 'throw' });
    } catch {
      jsonSchema = undefined;
    }
    if (jsonSchema !== undefined) {
      const { $schema: _draft, ...plain } = jsonSchema;
      return fastJson(plain);
    }
  }
  return zodSerializerCompiler(route);
};
