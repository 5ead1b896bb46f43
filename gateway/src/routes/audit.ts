import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  accountEventTypes,
  accountStream,
  isValidId,
  accountAuditLimits,
  accountEntries,
  auditEntryOf,
  balanceAsOf,
  type EventStore,
  type Clock,
  boostLifecycleOf,
  readIndexed,
  readRefs,
  targetKey,
  transferTraceOf,
  type TraceKey,
  type RecordedEvent,
  boostTargetTypes,
} from '../../../ledger/src/index.js';
import type { AuthUser } from '../auth.js';
import { gatewayErrors } from '../errors.js';
import {
  auditIndexLimits,
  describeFailedEvent,
  type AuditIndexProjection,
  type ProjectorStatus,
} from '../../../projections/src/index.js';
import {
  accountId,
  anyAccountId,
  instant,
  utcMs,
  entry,
  encodeCursor,
  decodeCursor,
  encodePositionCursor,
  decodePositionCursor,
  mayAudit,
} from './auditSchemas.js';

export interface AuditRoutesOptions {
  readonly store: EventStore;
  readonly clock: Clock;
  /**
   * The audit index's lookups and its progress (wherever its projector runs); the trace routes need it
   * (they run with the projections).
   */
  readonly index?:
    | {
        readonly projection: Pick<AuditIndexProjection, 'lookup'>;
        caughtUp(timeoutMs: number): Promise<void>;
        status(): Promise<ProjectorStatus | undefined>;
      }
    | undefined;
}

/** How long a trace waits for the audit index to reach the log's head as of the request. */
const indexWaitMs = 2000;

/**
 * GET /api/audit/*: audit queries answered from the event store itself, never from a read model.
 */
export const auditRoutes: FastifyPluginAsyncZod<AuditRoutesOptions> = async (app, { store, clock, index }) => {
  /** The events under one key: found through the index, each read back from the log and checked. */
  const adminOnly = (user: AuthUser): void => {
    if (!user.roles.includes('admin')) throw new gatewayErrors.FORBIDDEN('traces across accounts need the admin role');
  };

  /** The audit index, once it has reached the log's head as of the request. */
  const caughtUpIndex = async (): Promise<Pick<AuditIndexProjection, 'lookup'>> => {
    if (index === undefined)
      throw new gatewayErrors.READ_MODEL_NOT_READY('the audit index runs with the projections, which are off');
    const stoppedOn = (await index.status())?.failedOn;
    if (stoppedOn !== undefined) throw new gatewayErrors.PROJECTION_STOPPED(describeFailedEvent('audit_index', stoppedOn));
    try {
      await index.caughtUp(indexWaitMs);
    } catch {
      const status = await index.status();
      throw new gatewayErrors.READ_MODEL_NOT_READY(
        `audit_index is ${status?.lagEvents ?? 'unknown'} events behind the log (${status?.lagMs ?? 0} ms)`,
      );
    }
    return index.projection;
  };
  const traced = async (key: TraceKey): Promise<{ events: RecordedEvent[]; mismatches: number }> =>
    readIndexed(store, await (await caughtUpIndex()).lookup(key), key);

  /**
   * One page of the legs naming a platform or clan account as counterparty, oldest first: references
   * from the audit index from the cursor's position on, each event read back from the log and kept
   * only if it is there and names the account; then the filters. Reads at most `lookupRefsMax`
   * references per page.
   */
  const counterpartyPage = async (
    account: string,
    query: { fromPosition: number; limit: number; from?: string; to?: string; types?: ReadonlySet<string> },
  ) => {
    const key: TraceKey = { kind: 'counterparty', key: account };
    const refs = await (await caughtUpIndex()).lookup(key, { fromPosition: query.fromPosition });
    const items: RecordedEvent[] = [];
    let mismatches = 0;
    // Read back in batches of a page's size (one readEvents call each), checked one by one in log order.
    for (let from = 0; from < refs.length; from += query.limit) {
      const batch = refs.slice(from, from + query.limit);
      const checked = await readRefs(store, batch, key);
      for (const [i, ref] of batch.entries()) {
        const event = checked[i];
        if (event === undefined) {
          mismatches += 1;
          continue;
        }
        const occurredAt = auditEntryOf(event).occurredAt;
        const kept =
          (query.to === undefined || occurredAt < query.to) &&
          (query.from === undefined || occurredAt >= query.from) &&
          (query.types === undefined || query.types.has(event.type));
        if (kept) items.push(event);
        if (items.length === query.limit) return { items, mismatches, nextPosition: ref.position + 1 };
      }
    }
    const last = refs[refs.length - 1];
    return {
      items,
      mismatches,
      nextPosition: last !== undefined && refs.length === auditIndexLimits.lookupRefsMax ? last.position + 1 : null,
    };
  };

  app.get(
    '/accounts/:accountId/events',
    {
      schema: {
        summary:
          "An account's events with their place in the log and who caused them (admin, or the account's owner); for a platform or clan account, the legs naming it as counterparty (admin)",
        params: z.object({ accountId: anyAccountId }),
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
          200: z.object({
            accountId: z.string(),
            userId: z.string().nullable(),
            items: z.array(entry),
            nextCursor: z.string().nullable(),
            indexMismatches: z.number(),
          }),
        },
      },
    },
    async (request) => {
      const account = request.params.accountId;
      const { limit, cursor, from, to, type } = request.query;
      const filters = {
        limit,
        ...(from === undefined ? {} : { from: utcMs(from) }),
        ...(to === undefined ? {} : { to: utcMs(to) }),
        ...(type === undefined ? {} : { types: new Set(type.split(',')) }),
      };
      if (account.kind === 'counterparty') {
        adminOnly(request.user);
        const page = await counterpartyPage(account.account, {
          ...filters,
          fromPosition: cursor === undefined ? 0 : decodePositionCursor(cursor),
        });
        return {
          accountId: account.account,
          userId: null,
          items: page.items.map(auditEntryOf),
          nextCursor: page.nextPosition === null ? null : encodePositionCursor(page.nextPosition),
          indexMismatches: page.mismatches,
        };
      }
      const { userId } = account;
      mayAudit(request.user, userId);
      const page = await accountEntries(store, accountStream(userId), {
        ...filters,
        fromRevision: cursor === undefined ? 0 : decodeCursor(cursor),
      });
      return {
        accountId: `user:${userId}`,
        userId,
        items: page.entries.map((e) => ({ ...e })),
        nextCursor: page.nextRevision === null ? null : encodeCursor(page.nextRevision),
        indexMismatches: 0,
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
            indexMismatches: z.number(),
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
        indexMismatches: answer.indexMismatch ? 1 : 0,
      };
    },
  );

  const lifecycle = z.object({
    boostId: z.string(),
    payer: z.string(),
    targetType: z.string(),
    targetId: z.string(),
    amount: z.number(),
    durationHours: z.number(),
    activatedAt: z.string(),
    dueAt: z.string(),
    expiredAt: z.string().nullable(),
    latenessMs: z.number().nullable(),
    active: z.boolean(),
    events: z.array(entry),
  });
  const id = (name: string) => z.string().refine(isValidId, `${name} must be a valid id`);

  app.get(
    '/boosts/:boostId',
    {
      schema: {
        summary: "A boost's activation and expiry: due and actual time, lateness, payer, target (admin)",
        params: z.object({ boostId: id('boostId') }),
        response: { 200: lifecycle.extend({ indexMismatches: z.number() }) },
      },
    },
    async (request) => {
      adminOnly(request.user);
      const { boostId } = request.params;
      const { events, mismatches } = await traced({ kind: 'boost', key: boostId });
      const found = boostLifecycleOf(boostId, events);
      if (found === undefined) throw new gatewayErrors.NOT_FOUND(`no boost ${boostId} in the log`);
      return { ...found, events: found.events.map((e) => ({ ...e })), indexMismatches: mismatches };
    },
  );

  app.get(
    '/targets/:targetType/:targetId/boosts',
    {
      schema: {
        summary: 'Who boosted a profile, gig or clan, when, how much, and whether it is still active (admin)',
        params: z.object({ targetType: z.enum(boostTargetTypes), targetId: id('targetId') }),
        querystring: z.strictObject({
          from: instant('from').optional().describe('boosts activated at or after this instant'),
          to: instant('to').optional().describe('boosts activated before this instant'),
        }),
        response: {
          200: z.object({
            targetType: z.string(),
            targetId: z.string(),
            boosts: z.array(lifecycle),
            activeCount: z.number(),
            indexMismatches: z.number(),
          }),
        },
      },
    },
    async (request) => {
      adminOnly(request.user);
      const { targetType, targetId } = request.params;
      const { events, mismatches } = await traced({ kind: 'target', key: targetKey(targetType, targetId) });
      const from = request.query.from === undefined ? undefined : utcMs(request.query.from);
      const to = request.query.to === undefined ? undefined : utcMs(request.query.to);
      const boostIds = [...new Set(events.map((e) => String(e.data.boostId as string)))];
      const boosts = boostIds
        .map((boostId) => boostLifecycleOf(boostId, events))
        .filter((b): b is NonNullable<typeof b> => b !== undefined)
        .filter((b) => (from === undefined || b.activatedAt >= from) && (to === undefined || b.activatedAt < to))
        .map((b) => ({ ...b, events: b.events.map((e) => ({ ...e })) }));
      return { targetType, targetId, boosts, activeCount: boosts.filter((b) => b.active).length, indexMismatches: mismatches };
    },
  );

  app.get(
    '/correlations/:correlationId',
    {
      schema: {
        summary: 'Everything one request caused, the settlement and scheduled expiry that followed included (admin)',
        params: z.object({ correlationId: z.string().min(1).max(200) }),
        response: {
          200: z.object({ correlationId: z.string(), events: z.array(entry), indexMismatches: z.number() }),
        },
      },
    },
    async (request) => {
      adminOnly(request.user);
      const { correlationId } = request.params;
      const direct = await traced({ kind: 'correlation', key: correlationId });
      // What followed under other correlations: a boost's scheduled expiry, a payment's settlement.
      const followers: TraceKey[] = [];
      for (const e of direct.events) {
        if (typeof e.data.boostId === 'string') followers.push({ kind: 'boost', key: e.data.boostId });
        if (typeof e.data.transferId === 'string') followers.push({ kind: 'transfer', key: e.data.transferId });
      }
      const byPosition = new Map(direct.events.map((e) => [e.position, e]));
      let mismatches = direct.mismatches;
      for (const key of followers) {
        const more = await traced(key);
        mismatches += more.mismatches;
        for (const e of more.events) byPosition.set(e.position, e);
      }
      if (byPosition.size === 0) throw new gatewayErrors.NOT_FOUND(`nothing in the log under correlation ${correlationId}`);
      const events = [...byPosition.values()].sort((a, b) => a.position - b.position).map(auditEntryOf);
      return { correlationId, events, indexMismatches: mismatches };
    },
  );

  app.get(
    '/transfers/:transferId',
    {
      schema: {
        summary: "A gig payment's two legs, whether it settled, and how long it was in transit (admin)",
        params: z.object({ transferId: id('transferId') }),
        response: {
          200: z.object({
            transferId: z.string(),
            payer: z.string(),
            payee: z.string(),
            gigId: z.string(),
            amount: z.number(),
            sentAt: z.string().nullable(),
            receivedAt: z.string().nullable(),
            inTransitMs: z.number().nullable(),
            settled: z.boolean(),
            events: z.array(entry),
            indexMismatches: z.number(),
          }),
        },
      },
    },
    async (request) => {
      adminOnly(request.user);
      const { transferId } = request.params;
      const { events, mismatches } = await traced({ kind: 'transfer', key: transferId });
      const found = transferTraceOf(transferId, events);
      if (found === undefined) throw new gatewayErrors.NOT_FOUND(`no gig payment ${transferId} in the log`);
      return { ...found, events: found.events.map((e) => ({ ...e })), indexMismatches: mismatches };
    },
  );
};
