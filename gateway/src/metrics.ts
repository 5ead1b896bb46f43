import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from '../../ledger/src/index.js';
import { type ProjectionReads, type ProjectorStatus, type RelayMetrics } from '../../projections/src/index.js';
import { gatewayLimits } from './config.js';

/** The gateway's Prometheus metrics, on a registry of its own (no global state between apps in tests). */
export const createMetrics = () => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route, method and status code',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route and method',
      labelNames: ['route', 'method'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    eventsAppended: new Counter({
      name: 'ledger_events_appended_total',
      help: 'Events appended by commands',
      registers: [registry],
    }),
    expiryLateness: new Histogram({
      name: 'boost_expiry_lateness_seconds',
      help: 'How late each BoostExpired was appended after its due time',
      buckets: [0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 30, 300, 3600],
      registers: [registry],
    }),
    commandsRejected: new Counter({
      name: 'ledger_commands_rejected_total',
      help: 'Commands refused by the ledger, by rejection code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
  };
};

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * A count too costly to take on every scrape, kept for `maxAgeMs`: a scrape answers the last count
 * and, once it is older than that, starts one new count in the background (never two at once), so
 * however often /metrics is scraped the table is counted at most once per `maxAgeMs`. Only the first
 * scrape waits for a count.
 */
export const cachedCount = (count: () => Promise<number>, clock: Clock, maxAgeMs: number): (() => Promise<number>) => {
  let last: { value: number; atMs: number } | undefined;
  let counting: Promise<number> | undefined;
  const recount = (): Promise<number> =>
    (counting ??= count()
      .then((value) => {
        last = { value, atMs: clock.now().toMillis() };
        return value;
      })
      .finally(() => {
        counting = undefined;
      }));
  return async () => {
    if (last === undefined) return recount();
    if (clock.now().toMillis() - last.atMs >= maxAgeMs)
      // A failed recount keeps the last value; the next scrape tries again.
      recount().catch(() => undefined);
    return last.value;
  };
};

/** Projection lag (events and ms) and pending expiries as gauges, read when Prometheus scrapes. */
export const trackProjectionLag = (metrics: Metrics, projections: ProjectionReads, clock: Clock): void => {
  // Counts the pending-expiry set (every active boost): cached, not counted per scrape.
  const pendingExpiries = cachedCount(() => projections.expiry.pendingCount(), clock, gatewayLimits.metricsCountMaxAgeMs);
  new Gauge({
    name: 'boost_expiry_pending',
    help: `Active boosts waiting for their expiry (counted at most every ${gatewayLimits.metricsCountMaxAgeMs / 1000} s)`,
    registers: [metrics.registry],
    async collect() {
      this.set(await pendingExpiries());
    },
  });
  const perProjection = (name: string, help: string, valueOf: (status: ProjectorStatus) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['projection'] as const,
      registers: [metrics.registry],
      async collect() {
        for (const s of await projections.statuses()) this.set({ projection: s.name }, valueOf(s));
      },
    });
  };
  perProjection('projection_lag_events', 'Events between a projection checkpoint and the head of the log', (s) => s.lagEvents);
  perProjection('projection_lag_ms', 'How long the oldest event a projection has not handled has waited', (s) => s.lagMs);
  perProjection('projection_checkpoint_position', 'Log position of the last event a projection handled', (s) => s.checkpoint);
  perProjection(
    'projection_stopped_on_event',
    '1 while a projection is stopped on an event it cannot fold (its read model is not updated; /ready names the event)',
    (s) => (s.failedOn === undefined ? 0 : 1),
  );
  perProjection(
    'projection_retries',
    'Times a projection resubscribed after an error (a locked or unreachable store, a failed batch) since the start',
    (s) => s.retries,
  );
};

/** The RabbitMQ relay's counters, read when Prometheus scrapes (its lag is `projection_lag_*{projection="rabbitmq_relay"}`). */
export const trackRelay = (metrics: Metrics, relay: { metrics(): RelayMetrics | undefined }): void => {
  const total = (name: string, help: string, valueOf: (m: RelayMetrics) => number): void => {
    new Counter({
      name,
      help,
      registers: [metrics.registry],
      collect() {
        // Not known yet (the workers process has not reported it): no sample rather than a false zero.
        const known = relay.metrics();
        this.reset();
        if (known !== undefined) this.inc(valueOf(known));
      },
    });
  };
  total('relay_messages_published_total', 'Messages the relay handed to the broker (each attempt)', (m) => m.published);
  total('relay_messages_confirmed_total', 'Messages the broker confirmed', (m) => m.confirmed);
  total('relay_messages_nacked_total', 'Publishes the broker nacked (republished from the checkpoint)', (m) => m.nacked);
  total('relay_messages_returned_total', 'Publishes returned as unroutable (republished from the checkpoint)', (m) => m.returned);
  total('relay_reconnects_total', 'Times the relay reconnected to the broker', (m) => m.reconnects);
  new Gauge({
    name: 'relay_unconfirmed_messages',
    help: 'Messages published and not yet confirmed',
    registers: [metrics.registry],
    collect() {
      const known = relay.metrics();
      this.reset();
      if (known !== undefined) this.set(known.unconfirmed);
    },
  });
  new Gauge({
    name: 'relay_connected',
    help: '1 while the relay can publish (connected and not blocked)',
    registers: [metrics.registry],
    collect() {
      const known = relay.metrics();
      this.set(known !== undefined && known.unavailableReason === undefined ? 1 : 0);
    },
  });
};
