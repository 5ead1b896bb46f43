import assert from 'node:assert/strict';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  type AccountCommandHandler,
  accountEventOf,
  accountStream,
  type EventStore,
  isValidId,
} from '../../../ledger/src/index.js';
import { accountFor } from '../auth.js';
import { gatewayLimits } from '../config.js';
import { gatewayErrors } from '../errors.js';

const userIdQuery = z
  .string()
  .refine(isValidId, 'userId must be a valid user id')
  .optional()
  .describe('services and admins: another account');

const historyItem = z.object({
  eventId: z.string(),
  type: z.string(),
  revision: z.number(),
  occurredAt: z.string(),
  recordedAt: z.string(),
  data: z.record(z.string(), z.unknown()),
});

/** Cursors are opaque to clients: the revision to continue from, base64url-encoded. */
const encodeCursor = (revision: number): string => Buffer.from(`r${revision}`).toString('base64url');
const decodeCursor = (cursor: string): number => {
  const match = /^r(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match?.[1] === undefined) throw new gatewayErrors.INVALID_CURSOR();
  return Number(match[1]);
};

export interface QueryRoutesOptions {
  readonly handler: AccountCommandHandler;
  readonly store: EventStore;
}

/** GET /api/credits/*: the caller's balance and history, read from the ledger itself. */
export const queryRoutes: FastifyPluginAsyncZod<QueryRoutesOptions> = async (app, { handler, store }) => {
  app.get(
    '/balance',
    {
      schema: {
        summary: "The caller's balance and stream revision",
        querystring: z.strictObject({ userId: userIdQuery }),
        response: { 200: z.object({ userId: z.string(), balance: z.number(), revision: z.number() }) },
      },
    },
    async (request) => {
      const userId = accountFor(request.user, request.query.userId);
      const { balance, revision } = await handler.read(userId);
      return { userId, balance, revision };
    },
  );

  app.get(
    '/history',
    {
      schema: {
        summary: "The caller's own events, newest first, cursor-paginated",
        querystring: z.strictObject({
          limit: z.coerce.number().int().min(1).max(gatewayLimits.historyPageMax).default(gatewayLimits.historyPageDefault),
          cursor: z.string().max(64).optional(),
          userId: userIdQuery,
        }),
        response: { 200: z.object({ userId: z.string(), items: z.array(historyItem), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => {
      const userId = accountFor(request.user, request.query.userId);
      const { limit, cursor } = request.query;
      const from = cursor === undefined ? undefined : decodeCursor(cursor);
      const events = await store.readStream(accountStream(userId), {
        direction: 'backwards',
        maxCount: limit,
        ...(from === undefined ? {} : { fromRevision: from }),
      });
      const items = events.map((recorded) => {
        const decoded = accountEventOf(recorded);
        assert.ok(decoded !== undefined, 'an account stream holds account events');
        return {
          eventId: recorded.id,
          type: decoded.event.type,
          revision: recorded.revision,
          occurredAt: typeof recorded.metadata.occurredAt === 'string' ? recorded.metadata.occurredAt : recorded.recordedAt,
          recordedAt: recorded.recordedAt,
          data: decoded.event.data,
        };
      });
      const last = items.at(-1);
      const nextCursor =
        items.length === limit && last !== undefined && last.revision > 0 ? encodeCursor(last.revision - 1) : null;
      return { userId, items, nextCursor };
    },
  );
};
