import { hash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { DateTime } from 'luxon';
import { v7 as uuidv7 } from 'uuid';
import type { z } from 'zod';
import {
  canonicalJson,
  type AccountCommand,
  type AccountCommandHandler,
  type AccountEvent,
  type BoostTargetType,
  type Clock,
  type CommandContext,
  type CommittedAccountEvent,
  type JsonValue,
} from '../../../ledger/src/index.js';
import { accountFor, actorOf, isPrivileged, type AuthUser } from '../auth.js';
import { gatewayLimits } from '../config.js';
import { gatewayErrors, RejectionHttpError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import {
  boostClanBody,
  boostGigBody,
  boostProfileBody,
  boostResponse,
  clanContributionBody,
  commandErrors,
  earnBody,
  gigPaymentBody,
  gigPaymentResponse,
  idempotencyHeaders,
  movementResponse,
  purchaseBody,
  spendBody,
} from './commandSchemas.js';

export interface CommandRoutesOptions {
  readonly handler: AccountCommandHandler;
  readonly clock: Clock;
  readonly metrics: Metrics;
}

/** What a command route answers from: the committed events, the new balance and revision. */
type Committed = { readonly events: readonly CommittedAccountEvent[]; readonly balance: number; readonly revision: number };

/** Every command body may name the account to act on (`userId`); the caller's own is the default. */
type BodySchema = z.ZodType<{ readonly userId?: string | undefined }>;

/**
 * One POST route of the table: its body and answer schemas, who may call it, how a body becomes one
 * ledger command, and how the committed result becomes the answer. (Method syntax on purpose: the
 * table holds routes of different bodies, and a method's parameter is checked both ways.)
 */
interface CommandRoute<Body extends BodySchema = BodySchema, Answer extends z.ZodType = z.ZodType> {
  readonly path: string;
  readonly summary: string;
  readonly body: Body;
  readonly answer: Answer;
  /** `user`: any caller, on their own account (services and admins on any); `privileged`: services and admins only. */
  readonly role: { readonly only: 'user' } | { readonly only: 'privileged'; readonly forbidden: string };
  command(body: z.infer<Body>, now: DateTime): AccountCommand;
  /**
   * The command's own idempotency key, whatever the client sends (a purchase: its paymentRef, so a
   * payment is credited once per account). The client's Idempotency-Key, if any, is then an alias,
   * looked up when the command's own key finds nothing: a key already used for another request is
   * refused with `reused`.
   */
  ownKey?(body: z.infer<Body>): { readonly key: string; readonly reused: string };
  answerOf(result: Committed): z.infer<Answer>;
}

/** Checks one route's types against its own schemas; the table then holds them side by side. */
const commandRoute = <Body extends BodySchema, Answer extends z.ZodType>(route: CommandRoute<Body, Answer>): CommandRoute =>
  route;

const anyCaller = { only: 'user' } as const;

const only = <T extends AccountEvent['type']>(
  events: readonly CommittedAccountEvent[],
  type: T,
): CommittedAccountEvent & { event: Extract<AccountEvent, { type: T }> } => {
  const found = events.find((e) => e.event.type === type);
  if (found === undefined) throw new Error(`expected a ${type} event`);
  return found as CommittedAccountEvent & { event: Extract<AccountEvent, { type: T }> };
};

const movement = (result: Committed): z.infer<typeof movementResponse> => {
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

const activateBoost = (
  targetType: BoostTargetType,
  targetId: string,
  body: { readonly amount: number; readonly duration: number },
  now: DateTime,
): AccountCommand => ({
  type: 'ActivateBoost',
  boostId: uuidv7(),
  targetType,
  targetId,
  amount: body.amount,
  durationHours: body.duration,
  now,
});

const boostAnswer = (result: Committed): z.infer<typeof boostResponse> => {
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

/** POST /api/credits/*, in the order the API documents them. */
const commandRouteTable: readonly CommandRoute[] = [
  commandRoute({
    path: '/boost/profile',
    summary: 'Boost a user profile',
    body: boostProfileBody,
    answer: boostResponse,
    role: anyCaller,
    command: (body, now) => activateBoost('profile', body.targetUserId, body, now),
    answerOf: boostAnswer,
  }),
  commandRoute({
    path: '/boost/gig',
    summary: 'Boost a gig',
    body: boostGigBody,
    answer: boostResponse,
    role: anyCaller,
    command: (body, now) => activateBoost('gig', body.targetGigId, body, now),
    answerOf: boostAnswer,
  }),
  commandRoute({
    path: '/boost/clan',
    summary: 'Boost a clan',
    body: boostClanBody,
    answer: boostResponse,
    role: anyCaller,
    command: (body, now) => activateBoost('clan', body.targetClanId, body, now),
    answerOf: boostAnswer,
  }),
  commandRoute({
    path: '/purchase',
    summary: 'Record a credit purchase (the payment service: service or admin only)',
    body: purchaseBody,
    answer: movementResponse,
    // A purchase says that money was captured, which only the payment service knows: a user (even on
    // their own account) would be crediting themselves for nothing.
    role: { only: 'privileged', forbidden: 'recording a purchase needs the service or admin role' },
    command: ({ amount, paymentRef }, now) => ({ type: 'PurchaseCredits', amount, paymentRef, now }),
    // A payment is credited once per account: a purchase sent again (a payment webhook retried, with
    // or without an Idempotency-Key, the same key or another) is answered from the log instead of
    // being credited twice.
    ownKey: ({ paymentRef }) => ({
      key: `payment:${paymentRef}`,
      reused: `paymentRef ${JSON.stringify(paymentRef)} was already recorded for this account, with a different purchase`,
    }),
    answerOf: movement,
  }),
  commandRoute({
    path: '/spend',
    summary: 'Spend credits on a target',
    body: spendBody,
    answer: movementResponse,
    role: anyCaller,
    command: ({ amount, targetType, targetId, reason }, now) => ({
      type: 'SpendCredits',
      amount,
      targetType,
      targetId,
      reason: reason ?? '',
      now,
    }),
    answerOf: movement,
  }),
  commandRoute({
    path: '/earn',
    summary: 'Grant credits to a user (service or admin only)',
    body: earnBody,
    answer: movementResponse,
    role: { only: 'privileged', forbidden: 'earning credits needs the service or admin role' },
    command: ({ amount, source, refId }, now) => ({ type: 'EarnCredits', amount, source, refId, now }),
    // An earning is credited once per (account, source, refId), like a purchase per paymentRef: a
    // retry without a key, or with another key, is answered from the log. (A JSON pair, so no source
    // and refId can run together into another pair's key.)
    ownKey: ({ source, refId }) => ({
      key: `earn:${JSON.stringify([source, refId])}`,
      reused: `refId ${JSON.stringify(refId)} from source ${JSON.stringify(source)} was already credited to this account, with a different earning`,
    }),
    answerOf: movement,
  }),
  commandRoute({
    path: '/gig-payment',
    summary: 'Pay another user for a gig',
    body: gigPaymentBody,
    answer: gigPaymentResponse,
    role: anyCaller,
    command: ({ gigId, payeeId, amount }, now) => ({ type: 'PayForGig', transferId: uuidv7(), gigId, payeeId, amount, now }),
    answerOf: (result) => {
      const sent = only(result.events, 'GigPaymentSent');
      return {
        ...movement(result),
        transferId: sent.event.data.transferId,
        payeeId: sent.event.data.payeeId,
        gigId: sent.event.data.gigId,
      };
    },
  }),
  commandRoute({
    path: '/clan-contribution',
    summary: 'Contribute credits to a clan',
    body: clanContributionBody,
    answer: movementResponse,
    role: anyCaller,
    command: ({ clanId, amount }, now) => ({ type: 'ContributeToClan', clanId, amount, now }),
    answerOf: movement,
  }),
];

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
    ownKey: { readonly key: string; readonly reused: string } | undefined,
  ): Promise<Committed> => {
    const context: CommandContext = {
      actor: actorOf(request.user),
      correlationId: request.id,
      causationId: request.id,
      ...idempotencyOf(request, accountId, ownKey),
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

  for (const route of commandRouteTable) {
    const role = route.role;
    app.post(
      route.path,
      {
        // Who may call a privileged route is checked before its body: a caller without the role
        // learns nothing of the body's rules, and meets the same 403 whatever it sends.
        ...(role.only === 'privileged'
          ? {
              preValidation: (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) =>
                done(isPrivileged(request.user) ? undefined : new gatewayErrors.FORBIDDEN(role.forbidden)),
            }
          : {}),
        schema: {
          summary: route.summary,
          body: route.body,
          headers: idempotencyHeaders,
          response: { 201: route.answer, ...commandErrors },
        },
      },
      async (request, reply) => {
        const accountId = accountFor(request.user, request.body.userId);
        const command = route.command(request.body, clock.now());
        return route.answerOf(await execute(request, reply, accountId, command, route.ownKey?.(request.body)));
      },
    );
  }
};

/**
 * The command's idempotency, from its own key (if it has one) and the client's Idempotency-Key. Keys
 * from clients live in their own namespace: a client can never send the key a reactor uses for its
 * own command on the same account (`expire-…`, `settle-…`) and so block it.
 */
const idempotencyOf = (
  request: FastifyRequest,
  accountId: string,
  ownKey: { readonly key: string; readonly reused: string } | undefined,
): Pick<CommandContext, 'idempotency'> => {
  const key = request.headers['idempotency-key'];
  if (
    key !== undefined &&
    (typeof key !== 'string' || key.length > gatewayLimits.idempotencyKeyLengthMax || !idempotencyKeyPattern.test(key))
  ) {
    throw new gatewayErrors.INVALID_IDEMPOTENCY_KEY(String(gatewayLimits.idempotencyKeyLengthMax));
  }
  const clientKey = key === undefined ? undefined : `client:${key}`;
  if (ownKey !== undefined) {
    const requestFingerprint = fingerprint(request, accountId);
    return {
      idempotency: {
        key: ownKey.key,
        fingerprint: requestFingerprint,
        reused: ownKey.reused,
        ...(clientKey === undefined ? {} : { aliases: [{ key: clientKey, fingerprint: requestFingerprint }] }),
      },
    };
  }
  return clientKey === undefined ? {} : { idempotency: { key: clientKey, fingerprint: fingerprint(request, accountId) } };
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

export type { AuthUser };
