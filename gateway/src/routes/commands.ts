import { hash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import {
  type AccountCommand,
  type AccountCommandHandler,
  type AccountEvent,
  accountLimits,
  boostTargetTypes,
  canonicalJson,
  type Clock,
  type CommandContext,
  type CommittedAccountEvent,
  isValidId,
  isValidText,
  type JsonValue,
  spendTargetTypes,
} from '../../../ledger/src/index.js';
import { accountFor, actorOf, isPrivileged, type AuthUser } from '../auth.js';
import { gatewayLimits } from '../config.js';
import { gatewayErrors, RejectionHttpError } from '../errors.js';
import type { Metrics } from '../metrics.js';

// ---------------------------------------------------------------------------------------------
// Request schemas: the seed's bodies, validated at the edge with the ledger's own limits.
// ---------------------------------------------------------------------------------------------

const id = (what: string) =>
  z.string().refine(isValidId, `${what} must be 1 to ${accountLimits.idLengthMax} printable characters`).describe(what);
const amount = z
  .number()
  .int('amount must be a whole number of credits')
  .min(1, 'amount must be at least 1 credit')
  .max(accountLimits.amountPerCommandMax, `amount must be at most ${accountLimits.amountPerCommandMax} credits`)
  .describe('whole credits');
const duration = z
  .number()
  .refine((h) => Number.isFinite(h) && Math.round(h * 3_600_000) >= 1, 'duration must be greater than zero (at least 1 ms)')
  .refine(
    (h) => h <= accountLimits.boostDurationHoursMax,
    `duration must be at most ${accountLimits.boostDurationHoursMax} hours`,
  )
  .describe('hours, fractions allowed');
/** Services and admins may act on another account by naming it; users may only name their own. */
const onBehalfOf = { userId: id('the account to act on (services and admins; defaults to the caller)').optional() };

const boostProfileBody = z.strictObject({ targetUserId: id('targetUserId'), amount, duration, ...onBehalfOf });
const boostGigBody = z.strictObject({ targetGigId: id('targetGigId'), amount, duration, ...onBehalfOf });
const boostClanBody = z.strictObject({ targetClanId: id('targetClanId'), amount, duration, ...onBehalfOf });
const purchaseBody = z.strictObject({ amount, paymentRef: id('paymentRef'), ...onBehalfOf });
const spendBody = z.strictObject({
  amount,
  targetType: z.enum(spendTargetTypes),
  targetId: id('targetId'),
  reason: z
    .string()
    .refine(isValidText, `reason must be at most ${accountLimits.textLengthMax} characters without control characters`)
    .optional(),
  ...onBehalfOf,
});
const earnBody = z.strictObject({ userId: id('userId'), amount, source: id('source'), refId: id('refId') });
const gigPaymentBody = z.strictObject({ gigId: id('gigId'), payeeId: id('payeeId'), amount, ...onBehalfOf });
const clanContributionBody = z.strictObject({ clanId: id('clanId'), amount, ...onBehalfOf });

const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .optional()
    .describe('makes the command safe to retry: same key and body → same answer, charged once'),
});

// ---------------------------------------------------------------------------------------------
// Response schemas
// ---------------------------------------------------------------------------------------------

const boostResponse = z.object({
  boostId: z.string(),
  eventId: z.string(),
  targetType: z.enum(boostTargetTypes),
  targetId: z.string(),
  amount: z.number(),
  durationHours: z.number(),
  expiresAt: z.string().describe('ISO 8601, UTC'),
  balance: z.number(),
});
const movementResponse = z.object({
  eventId: z.string(),
  eventIds: z.array(z.string()),
  type: z.string(),
  amount: z.number(),
  balance: z.number(),
  revision: z.number(),
});
const gigPaymentResponse = movementResponse.extend({ transferId: z.string(), payeeId: z.string(), gigId: z.string() });

const errorResponse = z.object({
  statusCode: z.number(),
  code: z.string(),
  error: z.string(),
  message: z.string(),
  details: z
    .record(z.string(), z.union([z.string(), z.number()]))
    .optional()
    .describe('facts of a rejection, e.g. balance and required'),
  issues: z
    .array(z.object({ path: z.string(), message: z.string() }))
    .optional()
    .describe('each invalid field of a 400'),
});
const commandErrors = {
  400: errorResponse,
  401: errorResponse,
  403: errorResponse,
  409: errorResponse,
  422: errorResponse,
  429: errorResponse,
};

export interface CommandRoutesOptions {
  readonly handler: AccountCommandHandler;
  readonly clock: Clock;
  readonly metrics: Metrics;
}

const idempotencyKeyPattern = /^[\x21-\x7e]+$/;

/**
 * POST /api/credits/*: each route turns its body into one ledger command on one account, runs it
 * through the command handler and answers 201 with the committed event(s) and the new balance. The
 * answer is built from the committed events only, so a retry with the same Idempotency-Key (answered
 * from the log) returns exactly the same body.
 */
export const commandRoutes: FastifyPluginAsyncZod<CommandRoutesOptions> = async (app, { handler, clock, metrics }) => {
  const execute = async (
    request: FastifyRequest,
    reply: FastifyReply,
    accountId: string,
    command: AccountCommand,
    /**
     * The command's own key, whatever the client sends (a purchase: its paymentRef, so a payment is
     * credited once per account). The client's Idempotency-Key, if any, is then an alias, looked up
     * when the command's own key finds nothing: a key already used for another request is refused.
     */
    implicit?: { readonly key: string; readonly reused: string },
  ): Promise<{ events: readonly CommittedAccountEvent[]; balance: number; revision: number }> => {
    const user = request.user;
    const key = request.headers['idempotency-key'];
    if (
      key !== undefined &&
      (typeof key !== 'string' || key.length > gatewayLimits.idempotencyKeyLengthMax || !idempotencyKeyPattern.test(key))
    ) {
      throw new gatewayErrors.INVALID_IDEMPOTENCY_KEY(String(gatewayLimits.idempotencyKeyLengthMax));
    }
    // Keys from clients live in their own namespace: a client can never send the key a reactor uses
    // for its own command on the same account (`expire-…`, `settle-…`) and so block it.
    const clientKey = key === undefined ? undefined : `client:${key}`;
    let idempotency: CommandContext['idempotency'];
    if (implicit !== undefined) {
      const requestFingerprint = fingerprint(request, accountId);
      idempotency = {
        key: implicit.key,
        fingerprint: requestFingerprint,
        reused: implicit.reused,
        ...(clientKey === undefined ? {} : { aliases: [{ key: clientKey, fingerprint: requestFingerprint }] }),
      };
    } else if (clientKey !== undefined) {
      idempotency = { key: clientKey, fingerprint: fingerprint(request, accountId) };
    }
    const context: CommandContext = {
      actor: actorOf(user),
      correlationId: request.id,
      causationId: request.id,
      ...(idempotency === undefined ? {} : { idempotency }),
    };
    const result = await handler.execute(accountId, command, context);
    if (!result.ok) {
      metrics.commandsRejected.inc({ code: result.rejection.code });
      throw new RejectionHttpError(result.rejection);
    }
    if (result.replayed) reply.header('idempotent-replayed', 'true');
    else metrics.eventsAppended.inc(result.events.length);
    reply.code(201);
    return result;
  };

  const boost =
    (targetType: (typeof boostTargetTypes)[number]) =>
    async (
      request: FastifyRequest,
      reply: FastifyReply,
      targetId: string,
      body: { amount: number; duration: number; userId?: string | undefined },
    ) => {
      const accountId = accountFor(request.user, body.userId);
      const result = await execute(request, reply, accountId, {
        type: 'ActivateBoost',
        boostId: uuidv7(),
        targetType,
        targetId,
        amount: body.amount,
        durationHours: body.duration,
        now: clock.now(),
      });
      const committed = only(result.events, 'BoostActivated');
      const data = committed.event.data;
      return {
        boostId: data.boostId,
        eventId: committed.id,
        targetType: data.targetType,
        targetId: data.targetId,
        amount: data.amount,
        durationHours: data.durationHours,
        expiresAt: data.expiresAt,
        balance: result.balance,
      };
    };

  app.post(
    '/boost/profile',
    {
      schema: {
        summary: 'Boost a user profile',
        body: boostProfileBody,
        headers: idempotencyHeaders,
        response: { 201: boostResponse, ...commandErrors },
      },
    },
    (request, reply) => boost('profile')(request, reply, request.body.targetUserId, request.body),
  );
  app.post(
    '/boost/gig',
    {
      schema: {
        summary: 'Boost a gig',
        body: boostGigBody,
        headers: idempotencyHeaders,
        response: { 201: boostResponse, ...commandErrors },
      },
    },
    (request, reply) => boost('gig')(request, reply, request.body.targetGigId, request.body),
  );
  app.post(
    '/boost/clan',
    {
      schema: {
        summary: 'Boost a clan',
        body: boostClanBody,
        headers: idempotencyHeaders,
        response: { 201: boostResponse, ...commandErrors },
      },
    },
    (request, reply) => boost('clan')(request, reply, request.body.targetClanId, request.body),
  );

  app.post(
    '/purchase',
    {
      schema: {
        summary: 'Record a credit purchase',
        body: purchaseBody,
        headers: idempotencyHeaders,
        response: { 201: movementResponse, ...commandErrors },
      },
    },
    async (request, reply) => {
      const accountId = accountFor(request.user, request.body.userId);
      const { amount, paymentRef } = request.body;
      // A payment is credited once per account: a purchase sent again (a payment webhook retried,
      // with or without an Idempotency-Key, the same key or another) is answered from the log
      // instead of being credited twice.
      const result = await execute(
        request,
        reply,
        accountId,
        { type: 'PurchaseCredits', amount, paymentRef, now: clock.now() },
        {
          key: `payment:${paymentRef}`,
          reused: `paymentRef ${JSON.stringify(paymentRef)} was already recorded for this account, with a different purchase`,
        },
      );
      return movement(result);
    },
  );

  app.post(
    '/spend',
    {
      schema: {
        summary: 'Spend credits on a target',
        body: spendBody,
        headers: idempotencyHeaders,
        response: { 201: movementResponse, ...commandErrors },
      },
    },
    async (request, reply) => {
      const accountId = accountFor(request.user, request.body.userId);
      const { amount: credits, targetType, targetId, reason } = request.body;
      const result = await execute(request, reply, accountId, {
        type: 'SpendCredits',
        amount: credits,
        targetType,
        targetId,
        reason: reason ?? '',
        now: clock.now(),
      });
      return movement(result);
    },
  );

  app.post(
    '/earn',
    {
      schema: {
        summary: 'Grant credits to a user (service or admin only)',
        body: earnBody,
        headers: idempotencyHeaders,
        response: { 201: movementResponse, ...commandErrors },
      },
    },
    async (request, reply) => {
      if (!isPrivileged(request.user)) throw new gatewayErrors.FORBIDDEN('earning credits needs the service or admin role');
      const { userId, amount: credits, source, refId } = request.body;
      const result = await execute(request, reply, userId, {
        type: 'EarnCredits',
        amount: credits,
        source,
        refId,
        now: clock.now(),
      });
      return movement(result);
    },
  );

  app.post(
    '/gig-payment',
    {
      schema: {
        summary: 'Pay another user for a gig',
        body: gigPaymentBody,
        headers: idempotencyHeaders,
        response: { 201: gigPaymentResponse, ...commandErrors },
      },
    },
    async (request, reply) => {
      const accountId = accountFor(request.user, request.body.userId);
      const { gigId, payeeId, amount: credits } = request.body;
      const result = await execute(request, reply, accountId, {
        type: 'PayForGig',
        transferId: uuidv7(),
        gigId,
        payeeId,
        amount: credits,
        now: clock.now(),
      });
      const sent = only(result.events, 'GigPaymentSent');
      return {
        ...movement(result),
        transferId: sent.event.data.transferId,
        payeeId: sent.event.data.payeeId,
        gigId: sent.event.data.gigId,
      };
    },
  );

  app.post(
    '/clan-contribution',
    {
      schema: {
        summary: 'Contribute credits to a clan',
        body: clanContributionBody,
        headers: idempotencyHeaders,
        response: { 201: movementResponse, ...commandErrors },
      },
    },
    async (request, reply) => {
      const accountId = accountFor(request.user, request.body.userId);
      const result = await execute(request, reply, accountId, {
        type: 'ContributeToClan',
        clanId: request.body.clanId,
        amount: request.body.amount,
        now: clock.now(),
      });
      return movement(result);
    },
  );
};

/**
 * What the client asked for, so a reused key with a different request is recognised: the route, the
 * account it resolved to, and the validated body without `userId` (already resolved into the account,
 * so naming oneself or not is the same request) and without an empty `reason` (the command is the
 * same with or without one).
 */
const fingerprint = (request: FastifyRequest, accountId: string): string => {
  // Every command route validates its body as an object (a strict zod object).
  const { userId: _resolved, ...body } = request.body as Record<string, JsonValue>;
  if (body.reason === '') delete body.reason;
  return hash(
    'sha256',
    canonicalJson({ method: request.method, route: request.routeOptions.url ?? request.url, accountId, body }),
    'base64url',
  );
};

const only = <T extends AccountEvent['type']>(
  events: readonly CommittedAccountEvent[],
  type: T,
): CommittedAccountEvent & { event: Extract<AccountEvent, { type: T }> } => {
  const found = events.find((e) => e.event.type === type);
  if (found === undefined) throw new Error(`expected a ${type} event`);
  return found as CommittedAccountEvent & { event: Extract<AccountEvent, { type: T }> };
};

const movement = (result: { events: readonly CommittedAccountEvent[]; balance: number; revision: number }) => {
  const first = result.events[0];
  if (first === undefined) throw new Error('a command commits at least one event');
  return {
    eventId: first.id,
    eventIds: result.events.map((e) => e.id),
    type: first.event.type,
    amount: 'amount' in first.event.data ? first.event.data.amount : 0,
    balance: result.balance,
    revision: result.revision,
  };
};

export type { AuthUser };
