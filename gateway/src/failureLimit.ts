import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../ledger/src/index.js';
import { gatewayLimits } from './config.js';
import { gatewayErrors } from './errors.js';

/**
 * Failed authentication and invalid requests, limited per IP. The per-user limit runs after
 * authentication and validation, so a client that never gets past them (forged or expired tokens,
 * garbage bodies) was never counted: each such request still costs a signature check or a parse. Here
 * every 400 and 401 an IP earns counts against it; past `maxPerMinute` in the current minute, its
 * requests are answered 429 before authentication runs, until the minute is over. Well-behaved
 * clients, which rarely fail, never meet it.
 *
 * Fixed one-minute windows on the injected clock, one counter per IP, at most
 * `failureLimitIpsTrackedMax` IPs (the oldest window is dropped first), so memory is bounded whatever
 * the number of addresses an attacker uses. Behind a proxy, set Fastify's `trustProxy` so `request.ip`
 * is the client's.
 */
export const limitFailuresPerIp = (app: FastifyInstance, clock: Clock, maxPerMinute: number): void => {
  if (maxPerMinute <= 0) return;
  const windowMs = 60_000;
  const failures = new Map<string, { windowStartMs: number; count: number }>();
  const current = (ip: string, nowMs: number) => {
    const entry = failures.get(ip);
    if (entry === undefined || nowMs - entry.windowStartMs >= windowMs) return undefined;
    return entry;
  };
  app.addHook('onRequest', (request, reply, done) => {
    // Most addresses never failed: no entry, no clock read (a luxon DateTime per request is 1–2 % of a boost's CPU).
    if (!failures.has(request.ip)) {
      done();
      return;
    }
    const entry = current(request.ip, clock.now().toMillis());
    if (entry !== undefined && entry.count >= maxPerMinute) {
      const retryS = Math.max(1, Math.ceil((entry.windowStartMs + windowMs - clock.now().toMillis()) / 1000));
      reply.header('retry-after', String(retryS));
      done(
        new gatewayErrors.RATE_LIMITED(
          `at most ${maxPerMinute} failed or invalid requests per minute from one address; retry in ${retryS} s`,
        ),
      );
      return;
    }
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    if (reply.statusCode === 400 || reply.statusCode === 401) {
      const nowMs = clock.now().toMillis();
      const entry = current(request.ip, nowMs);
      if (entry !== undefined) entry.count += 1;
      else {
        failures.delete(request.ip);
        if (failures.size >= gatewayLimits.failureLimitIpsTrackedMax) {
          const oldest = failures.keys().next().value;
          if (oldest !== undefined) failures.delete(oldest);
        }
        failures.set(request.ip, { windowStartMs: nowMs, count: 1 });
      }
    }
    done();
  });
};
