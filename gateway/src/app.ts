import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { v7 as uuidv7 } from 'uuid';
import { type AccountCommandHandler, type Clock, type EventStore } from '../../ledger/src/index.js';
import { authenticate, registerAuth } from './auth.js';
import { limitFailuresPerIp } from './failureLimit.js';
import { gatewayLimits, type GatewayConfig } from './config.js';
import { frameworkErrors, gatewayErrors, installErrorHandling } from './errors.js';
import { serializerCompiler } from './serialization.js';
import { createMetrics, trackProjectionLag, type Metrics } from './metrics.js';
import { commandRoutes } from './routes/commands.js';
import { opsRoutes, type ReadinessCheck } from './routes/ops.js';
import { queryRoutes } from './routes/queries.js';
import { accountRoutes } from './routes/accounts.js';
import { auditRoutes } from './routes/audit.js';
import { readModelRoutes } from './routes/readModels.js';
import { describeFailedEvent, type ProjectionReads } from '../../projections/src/index.js';

export interface AppDependencies {
  readonly config: GatewayConfig;
  readonly store: EventStore;
  readonly handler: AccountCommandHandler;
  readonly clock: Clock;
  readonly metrics?: Metrics;
  readonly readinessChecks?: Readonly<Record<string, ReadinessCheck>>;
  readonly logger?: FastifyServerOptions['logger'];
  /** The projections, run here or read from the workers' stores: account routes, readiness and lag metrics. */
  readonly projections?: ProjectionReads;
}

const requestIdPattern = /^[\w.:-]{1,128}$/;

/**
 * The HTTP API as a Fastify instance, with every dependency injected: the file that listens
 * (main.ts) is separate, and tests build the same app around a temporary store.
 */
/** The `projections` readiness check: fails naming every projection stopped on an event it cannot fold. */
const noProjectionStopped = async (projections: ProjectionReads): Promise<void> => {
  const stopped = (await projections.statuses()).filter((s) => s.failedOn !== undefined);
  if (stopped.length > 0)
    throw new Error(stopped.map((s) => (s.failedOn === undefined ? '' : describeFailedEvent(s.name, s.failedOn))).join('; '));
};

export const buildApp = async (deps: AppDependencies): Promise<FastifyInstance> => {
  const metrics = deps.metrics ?? createMetrics();
  if (deps.projections !== undefined) trackProjectionLag(metrics, deps.projections, deps.clock);
  const app = Fastify({
    logger: deps.logger ?? { level: deps.config.logLevel },
    bodyLimit: gatewayLimits.bodyBytesMax,
    requestTimeout: gatewayLimits.requestTimeoutMs,
    connectionTimeout: gatewayLimits.connectionTimeoutMs,
    keepAliveTimeout: gatewayLimits.keepAliveTimeoutMs,
    // Ids in paths (users, gigs, clans, accounts) may be up to 128 characters of any script, which
    // percent-encoded is up to 9 characters each: the router's default of 100 refused valid ids.
    routerOptions: { maxParamLength: gatewayLimits.pathParamLengthMax },
    frameworkErrors,
    // The caller's X-Request-Id (if sane) becomes the correlation id recorded in every event.
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && requestIdPattern.test(given) ? given : uuidv7();
    },
    requestIdHeader: false,
    ajv: { customOptions: { allErrors: false } },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  // Bodies are JSON only: without this, a JSON text sent as text/plain would reach validation as a
  // string (a 400) instead of being refused for its media type (415).
  app.removeContentTypeParser('text/plain');

  // Callback-style hooks: they run on every request, and an async hook costs a promise each time.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    done();
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Credit ledger API',
        version: '1.0.0',
        description:
          "Commands and queries of the event-sourced credit ledger. Errors use Fastify's format {statusCode, code, error, message}.",
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  registerAuth(app, deps.config);

  const projections = deps.projections;
  const readinessChecks = {
    ...(projections === undefined
      ? {}
      : { readModels: () => projections.ping(), projections: () => noProjectionStopped(projections) }),
    ...deps.readinessChecks,
  };
  await app.register(opsRoutes, { store: deps.store, metrics, readinessChecks });

  await app.register(async (api) => {
    // Before authentication, so an address that keeps failing it stops costing signature checks.
    limitFailuresPerIp(api, deps.clock, deps.config.rateLimitFailuresPerIpPerMinute);
    api.addHook('onRequest', authenticate);
    if (deps.config.rateLimitPerUserPerMinute > 0) {
      await api.register(fastifyRateLimit, {
        max: deps.config.rateLimitPerUserPerMinute,
        timeWindow: 60_000,
        hook: 'preHandler',
        keyGenerator: (request) => `user:${request.user.id}`,
        errorResponseBuilder: (_request, context) =>
          new gatewayErrors.RATE_LIMITED(
            `at most ${context.max} requests per minute per user; retry in ${Math.ceil(context.ttl / 1000)} s`,
          ),
      });
    }
    await api.register(commandRoutes, { prefix: '/api/credits', handler: deps.handler, clock: deps.clock, metrics });
    await api.register(queryRoutes, { prefix: '/api/credits', handler: deps.handler, store: deps.store });
    await api.register(auditRoutes, {
      prefix: '/api/audit',
      store: deps.store,
      clock: deps.clock,
      index:
        projections === undefined
          ? undefined
          : {
              projection: projections.audit,
              caughtUp: (timeoutMs) => projections.waitUntilCaughtUp(projections.audit.name, timeoutMs),
              status: async () => (await projections.statuses()).find((s) => s.name === projections.audit.name),
            },
    });
    if (projections !== undefined) {
      await api.register(accountRoutes, { prefix: '/api/accounts', projections });
      await api.register(readModelRoutes, { prefix: '/api', projections });
    }
  });

  return app;
};
