import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { DateTime } from 'luxon';
import { z } from 'zod';
import { accountEventTypes, accountStream, isValidId } from '../../../ledger/src/accounts/events.js';
import { accountAuditLimits, accountEntries, balanceAsOf } from '../../../ledger/src/audit/accountAudit.js';
import type { EventStore } from '../../../ledger/src/eventStore/eventStore.js';
import type { Clock } from '../../../ledger/src/shared/clock.js';
import type { AuthUser } from '../auth.js';
import { gatewayErrors } from '../errors.js';

export interface AuditRoutesOptions {
  readonly store: EventStore;
  readonly clock: Clock;
}

/**
 * A user account: a bare user id or `user:{id}`. The counterparty legs of platform and clan accounts
 * need an index over the whole log and are not served here yet.
 */
const accountId = z
  .string()
  .max(200)
  .refine(
    (value) => isValidId(value.startsWith('user:') ? value.slice('user:'.length) : value) && !/^(clan|platform):/.test(value),
    'accountId is a user id or user:{id} (platform and clan accounts are not audited here yet)',
  )
  .transform((value) => (value.startsWith('user:') ? value.slice('user:'.length) : value));

/** An ISO 8601 instant with an offset (Z or ±hh:mm); luxon reads it, the route compares it in UTC. */
const instant = (name: string) =>
  z
    .string()
    .max(64)
    .refine((value) => /(Z|[+-]\d{2}:?\d{2})$/.test(value) && DateTime.fromISO(value, { setZone: true }).isValid, {
      message: `${name} must be an ISO 8601 instant with an offset, such as 2026-06-29T13:30:00Z`,
    })
    .transform((value) => DateTime.fromISO(value, { setZone: true }).toUTC());

const utcMs = (t: DateTime): string => t.toUTC().toISO() ?? '';

const entry = z.object({
  eventId: z.string(),
  type: z.string(),
  stream: z.string(),
  revision: z.number(),
  position: z.number(),
  occurredAt: z.string(),
  recordedAt: z.string(),
  actor: z.string().nullable(),
  correlationId: z.string().nullable(),
  causationId: z.string().nullable(),
  commandId: z.string().nullable(),
  commandType: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
});

/** Cursors are opaque: the revision to continue from. */
const encodeCursor = (revision: number): string => Buffer.from(`a${revision}`).toString('base64url');
const decodeCursor = (cursor: string): number => {
  const match = /^a(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match?.[1] === undefined) throw new gatewayErrors.INVALID_CURSOR();
  return Number(match[1]);
};

/** Admins audit every account; a user only their own. Services have no audit access. */
const mayAudit = (user: AuthUser, userId: string): void => {
  if (user.roles.includes('admin') || (user.id === userId && user.roles.includes('user'))) return;
  throw new gatewayErrors.FORBIDDEN('auditing another account needs the admin role');
};

/**
 * GET /api/audit/*: audit queries answered from the event store itself, never from a read model.
 */
export const auditRoutes: FastifyPluginAsyncZod<AuditRoutesOptions> = async (app, { store, clock }) => {
  app.get(
    '/accounts/:accountId/events',
    {
      schema: {
        summary: "An account's events with their place in the log and who caused them (admin, or the account's owner)",
        params: z.object({ accountId }),
        querystring: z.strictObject({
          limit: z.coerce
            .number()
            .int()
            .min(1)
            .max(accountAuditLimits.entriesPageMax)
            .default(accountAuditLimits.entriesPageDefault),
          cursor: z.string().max(64).optional(),
          from: instant('from').optional().describe('only events that occurred at or after this instant'),
          to: instant('to').optional().describe('only events that occurred before this instant'),
          type: z
            .string()
            .max(400)
            .refine(
              (value) => value.split(',').every((t) => (accountEventTypes as string[]).includes(t)),
              `type is a comma-separated list of ${accountEventTypes.join(', ')}`,
            )
            .optional(),
        }),
        response: {
          200: z.object({ userId: z.string(), items: z.array(entry), nextCursor: z.string().nullable() }),
        },
      },
    },
    async (request) => {
      const userId = request.params.accountId;
      mayAudit(request.user, userId);
      const { limit, cursor, from, to, type } = request.query;
      const page = await accountEntries(store, accountStream(userId), {
        fromRevision: cursor === undefined ? 0 : decodeCursor(cursor),
        limit,
        from: from === undefined ? undefined : utcMs(from),
        to: to === undefined ? undefined : utcMs(to),
        types: type === undefined ? undefined : new Set(type.split(',')),
      });
      return {
        userId,
        items: page.entries.map((e) => ({ ...e })),
        nextCursor: page.nextRevision === null ? null : encodeCursor(page.nextRevision),
      };
    },
  );

  app.get(
    '/accounts/:accountId/balance',
    {
      schema: {
        summary: "An account's balance as of an instant, folded from its events (admin, or the account's owner)",
        params: z.object({ accountId }),
        querystring: z.strictObject({ asOf: instant('asOf').describe('ISO 8601 instant; not in the future') }),
        response: {
          200: z.object({
            userId: z.string(),
            asOf: z.string(),
            balance: z.number(),
            revision: z.number(),
            position: z.number(),
            lastEventAt: z.string().nullable(),
            eventsFolded: z.number(),
          }),
        },
      },
    },
    async (request) => {
      const userId = request.params.accountId;
      mayAudit(request.user, userId);
      const now = clock.now().toUTC();
      if (request.query.asOf > now)
        throw new gatewayErrors.AS_OF_IN_FUTURE(`asOf ${utcMs(request.query.asOf)} is after now (${utcMs(now)})`);
      const asOf = utcMs(request.query.asOf);
      const answer = await balanceAsOf(store, accountStream(userId), asOf);
      return {
        userId,
        asOf,
        balance: answer.balance,
        revision: answer.revision,
        position: answer.position,
        lastEventAt: answer.occurredAt,
        eventsFolded: answer.eventsFolded,
      };
    },
  );
};
