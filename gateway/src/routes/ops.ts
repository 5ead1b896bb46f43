import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type EventStore } from '../../../ledger/src/index.js';
import { gatewayLimits } from '../config.js';
import type { Metrics } from '../metrics.js';

/** A dependency /ready checks: resolves when healthy, rejects (or times out) when not. */
export type ReadinessCheck = () => Promise<unknown>;

export interface OpsRoutesOptions {
  readonly store: EventStore;
  readonly metrics: Metrics;
  /** Extra checks by name (read models, broker) added by the workers that exist. */
  readonly readinessChecks?: Readonly<Record<string, ReadinessCheck>>;
}

/** 'ok', or what went wrong. */
const withTimeout = async (check: ReadinessCheck): Promise<string> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${gatewayLimits.readinessTimeoutMs} ms`)),
          gatewayLimits.readinessTimeoutMs,
        );
      }),
    ]);
    return 'ok';
  } catch (error) {
    return (error as Error).message || 'failed';
  } finally {
    clearTimeout(timer);
  }
};

export const opsRoutes: FastifyPluginAsyncZod<OpsRoutesOptions> = async (app, { store, metrics, readinessChecks = {} }) => {
  app.get(
    '/health',
    { schema: { summary: 'Liveness: the process is up', response: { 200: z.object({ status: z.literal('ok') }) } } },
    () => ({
      status: 'ok' as const,
    }),
  );

  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness: every dependency answers',
        response: {
          200: z.object({ status: z.enum(['ready', 'unavailable']), checks: z.record(z.string(), z.string()) }),
          503: z.object({ status: z.enum(['ready', 'unavailable']), checks: z.record(z.string(), z.string()) }),
        },
      },
    },
    async (_request, reply) => {
      const all: Record<string, ReadinessCheck> = { eventStore: () => store.headPosition(), ...readinessChecks };
      const names = Object.keys(all);
      const results = await Promise.all(names.map((name) => withTimeout(all[name] ?? (() => Promise.resolve()))));
      const checks = Object.fromEntries(names.map((name, i) => [name, results[i] ?? 'failed']));
      const ready = results.every((r) => r === 'ok');
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', checks });
    },
  );

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: false } }, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
