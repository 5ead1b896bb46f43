import { STATUS_CODES } from 'node:http';
import createError from '@fastify/error';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ConcurrencyRetriesExhaustedError, EventStoreUnavailableError, type Rejection } from '../../ledger/src/index.js';
import { ReadModelStoreUnavailableError } from '../../projections/src/index.js';
import { invalidIdCode } from './ids.js';

/**
 * Every error the gateway itself raises, each with its code and status. docs/reference/api.md lists
 * them, and a test fails when one is missing there. Business rejections keep the ledger's own codes
 * (docs/reference/errors.md) and answer 422.
 */
export const gatewayErrors = {
  UNAUTHORIZED: createError('UNAUTHORIZED', '%s', 401),
  FORBIDDEN: createError('FORBIDDEN', '%s', 403),
  NOT_FOUND: createError('NOT_FOUND', '%s', 404),
  INVALID_IDEMPOTENCY_KEY: createError(
    'INVALID_IDEMPOTENCY_KEY',
    'Idempotency-Key must be 1 to %s printable ASCII characters',
    400,
  ),
  INVALID_CURSOR: createError('INVALID_CURSOR', 'cursor is not one this API returned', 400),
  /** An id in a command that could pass for another (see ids.ts); the answer lists the fields as `issues`. */
  INVALID_ID: createError('INVALID_ID', '%s', 400),
  AS_OF_IN_FUTURE: createError('AS_OF_IN_FUTURE', '%s', 400),
  CONCURRENCY_RETRIES_EXHAUSTED: createError('CONCURRENCY_RETRIES_EXHAUSTED', '%s', 409),
  RATE_LIMITED: createError('RATE_LIMITED', '%s', 429),
  READ_MODEL_NOT_READY: createError('READ_MODEL_NOT_READY', '%s', 503),
  /** The projection behind a query stopped on an event it cannot fold: its data would be stale. */
  PROJECTION_STOPPED: createError('PROJECTION_STOPPED', '%s', 503),
  EVENT_STORE_UNAVAILABLE: createError(
    'EVENT_STORE_UNAVAILABLE',
    'the event store is unavailable; retry later with the same Idempotency-Key',
    503,
  ),
  READ_MODEL_STORE_UNAVAILABLE: createError('READ_MODEL_STORE_UNAVAILABLE', 'the read models are unavailable; retry later', 503),
} as const;

/** Codes Fastify itself produces for client errors, which the API documents too. */
export const fastifyClientErrorCodes = [
  'FST_ERR_VALIDATION',
  'FST_ERR_CTP_BODY_TOO_LARGE',
  'FST_ERR_CTP_INVALID_MEDIA_TYPE',
  'FST_ERR_CTP_EMPTY_JSON_BODY',
  'FST_ERR_CTP_INVALID_JSON_BODY',
  'FST_ERR_BAD_URL',
  'FST_ERR_MAX_PARAM_LENGTH',
] as const;

/** A business rejection as an HTTP error: 422 with the ledger's code and its details. */
export class RejectionHttpError extends Error {
  readonly statusCode = 422;
  readonly code: string;
  readonly details: Rejection['details'];
  constructor(rejection: Rejection) {
    super(rejection.message);
    this.code = rejection.code;
    this.details = rejection.details;
  }
}

/** The reason phrase of a status (`Bad Request`), as Node's HTTP server itself says it. */
const statusText = (statusCode: number): string => STATUS_CODES[statusCode] ?? 'Error';

/**
 * One error handler for the whole API: everything leaves in Fastify's error format
 * `{ statusCode, code, error, message }`, validation errors with their field paths, rejections with
 * their details. Anything unexpected is logged and answered 500 without internals.
 */
export const installErrorHandling = (app: FastifyInstance): void => {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const issues = error.validation.map((v) => ({
        // `/a/b` → `body.a.b`; the root itself (`` or `/`) → `body`.
        path: `${error.validationContext ?? 'body'}${v.instancePath.length > 1 ? v.instancePath.replaceAll('/', '.') : ''}`,
        message: v.message ?? 'invalid',
      }));
      // A request whose only fault is its ids gets their own code; anything else wrong too, the general one.
      const unusableId = error.validation.every(
        (v) => (v.params as { params?: { code?: unknown } }).params?.code === invalidIdCode,
      );
      return reply.code(400).send({
        statusCode: 400,
        code: unusableId ? invalidIdCode : 'FST_ERR_VALIDATION',
        error: statusText(400),
        message: issues.map((i) => `${i.path}: ${i.message}`).join('; '),
        issues,
      });
    }
    if (error instanceof RejectionHttpError) {
      return reply.code(422).send({
        statusCode: 422,
        code: error.code,
        error: statusText(422),
        message: error.message,
        ...(error.details === undefined ? {} : { details: error.details }),
      });
    }
    if (error instanceof ConcurrencyRetriesExhaustedError) {
      return send(
        reply,
        new gatewayErrors.CONCURRENCY_RETRIES_EXHAUSTED('the account kept changing; retry with the same Idempotency-Key'),
      );
    }
    if (error instanceof EventStoreUnavailableError) {
      request.log.error({ err: error }, 'event store unavailable');
      return send(reply, new gatewayErrors.EVENT_STORE_UNAVAILABLE());
    }
    if (error instanceof ReadModelStoreUnavailableError) {
      request.log.warn({ err: error }, 'read-model store unavailable');
      return send(reply, new gatewayErrors.READ_MODEL_STORE_UNAVAILABLE());
    }
    const status = (error as FastifyError).statusCode;
    // Client errors (Fastify's own and ours) and our own coded 5xx answers go out as they are.
    const code = (error as FastifyError).code;
    if (status !== undefined && status >= 400 && (status < 500 || Object.hasOwn(gatewayErrors, code)))
      return send(reply, error as FastifyError);
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ statusCode: 500, code: 'INTERNAL', error: statusText(500), message: 'internal error' });
  });

  app.setNotFoundHandler((request, reply) =>
    send(reply, new gatewayErrors.NOT_FOUND(`route ${request.method} ${request.url.split('?')[0] ?? ''} not found`)),
  );
};

/** Errors the router raises before any route runs (a malformed URL, an over-long path parameter). */
export const frameworkErrors = (error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void => {
  reply.header('x-request-id', reply.request.id);
  void send(reply, error);
};

const send = (reply: FastifyReply, error: FastifyError) => {
  const statusCode = error.statusCode ?? 500;
  return reply.code(statusCode).send({
    statusCode,
    code: error.code,
    error: statusText(statusCode),
    message: error.message,
  });
};
