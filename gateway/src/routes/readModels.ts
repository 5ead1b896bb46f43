import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isValidId } from '../../../ledger/src/index.js';
import { describeFailedEvent, type ProjectionReads, type RankingCursor } from '../../../projections/src/index.js';
import { gatewayLimits } from '../config.js';
import { gatewayErrors } from '../errors.js';

const id = (what: string) => z.string().refine(isValidId, `${what} must be 1 to 128 printable characters`);
const page = z.strictObject({
  limit: z.coerce.number().int().min(1).max(gatewayLimits.historyPageMax).default(gatewayLimits.historyPageDefault),
  cursor: z.string().max(400).optional(),
});

/**
 * Ranking cursors are opaque to clients: the last row's exact score (a decimal string) and id,
 * base64url-encoded. A cursor a server before exact scores handed out holds a number, read as well.
 */
const encodeCursor = (score: bigint, rowId: string): string =>
  Buffer.from(JSON.stringify([score.toString(), rowId])).toString('base64url');
const decodeCursor = (cursor: string): RankingCursor => {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[1] === 'string') {
      const [score, rowId] = value as [unknown, string];
      if (typeof score === 'string' && decimal.test(score) && score.length <= scoreDigitsMax)
        return { score: BigInt(score), id: rowId };
      if (Number.isSafeInteger(score)) return { score: BigInt(score as number), id: rowId };
    }
  } catch {
    // fall through
  }
  throw new gatewayErrors.INVALID_CURSOR();
};
const decimal = /^-?(0|[1-9][0-9]*)$/;
/** Longer than any score the log can make (projections' sort keys hold 32 digits). */
const scoreDigitsMax = 40;

/** A page of a ranking and the cursor after its last row (null when the page is not full). */
const rankingPage = <T, S>(items: T[], limit: number, keyOf: (item: T) => [score: bigint, id: string], serve: (item: T) => S) => {
  const last = items.at(-1);
  return {
    items: items.map(serve),
    nextCursor: items.length === limit && last !== undefined ? encodeCursor(...keyOf(last)) : null,
  };
};

/** What JSON cannot hold exactly, as it is served: a bigint total as its decimal string. */
type Served<T> = T extends bigint
  ? string
  : T extends readonly (infer U)[]
    ? readonly Served<U>[]
    : T extends object
      ? { [K in keyof T]: Served<T[K]> }
      : T;
const served = <T>(value: T): Served<T> => {
  if (typeof value === 'bigint') return value.toString() as Served<T>;
  if (Array.isArray(value)) return value.map(served) as Served<T>;
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, served(field)])) as Served<T>;
  return value as Served<T>;
};

/**
 * Totals that grow without bound (sums over many users: a profile's, gig's or clan's boosts, spends,
 * payments, contributions, and the scores made of them) are decimal strings, exact past 2^53.
 */
const total = z.string().regex(decimal);
const activeBoost = z.object({ boostId: z.string(), boosterId: z.string(), amount: z.number(), expiresAt: z.string() });
const visibility = z.object({
  userId: z.string(),
  visibilityScore: total,
  activeBoosts: z.array(activeBoost).readonly(),
  activeBoostCount: z.number(),
  activeBoostCredits: total,
  lastBoostAt: z.string().nullable(),
  boostsReceived: z.number(),
  boostCreditsReceived: total,
});
const gig = z.object({
  gigId: z.string(),
  rankScore: total,
  activeBoosts: z.array(activeBoost).readonly(),
  activeBoostCount: z.number(),
  activeBoostCredits: total,
  paymentsTotal: total,
  paymentsCount: z.number(),
  creditsSpentOn: total,
  lastBoostAt: z.string().nullable(),
});
const clan = z.object({
  clanId: z.string(),
  reputation: total,
  contributionsTotal: total,
  contributors: z.number(),
  topContributors: z.array(z.object({ userId: z.string(), total })).readonly(),
  activeBoosts: z.array(activeBoost).readonly(),
  activeBoostCount: z.number(),
  activeBoostCredits: total,
  creditsSpentOn: total,
  lastBoostAt: z.string().nullable(),
});

/**
 * The services' read models (user visibility, gig ranking, clan reputation), for any authenticated
 * caller. While the read model has never caught up with the log (a fresh start or a rebuild) the
 * answer is 503 with its lag, never stale data passed off as current.
 */
export const readModelRoutes: FastifyPluginAsyncZod<{ projections: ProjectionReads }> = async (app, { projections }) => {
  app.addHook('preHandler', async () => {
    const status = (await projections.statuses()).find((s) => s.name === projections.services.name);
    if (status?.failedOn !== undefined)
      throw new gatewayErrors.PROJECTION_STOPPED(describeFailedEvent(status.name, status.failedOn));
    if (status === undefined || !status.caughtUpOnce) {
      throw new gatewayErrors.READ_MODEL_NOT_READY(
        `${projections.services.name} is still being built: ${status?.lagEvents ?? 'unknown'} events behind (${status?.lagMs ?? 0} ms)`,
      );
    }
  });
  const services = projections.services;

  app.get(
    '/users/:userId/visibility',
    {
      schema: {
        summary: "A user's visibility score and active boosts",
        params: z.object({ userId: id('userId') }),
        response: { 200: visibility },
      },
    },
    async (request) => served(await services.userVisibility(request.params.userId)),
  );

  app.get(
    '/users/:userId/boosts',
    {
      schema: {
        summary: "A user's boosts: active ones (active=true, the default) or every boost event",
        params: z.object({ userId: id('userId') }),
        querystring: z.strictObject({ active: z.enum(['true', 'false']).default('true') }),
      },
    },
    async (request) => {
      const { userId } = request.params;
      if (request.query.active === 'true')
        return { userId, active: true, boosts: await services.activeBoostsOf('profile', userId) };
      return { userId, active: false, events: await services.userBoostEvents(userId, gatewayLimits.historyPageMax) };
    },
  );

  app.get(
    '/gigs/ranking',
    {
      schema: {
        summary: 'Gigs by rank score, best first (ties by id)',
        querystring: page,
        response: { 200: z.object({ items: z.array(gig), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const items = await services.gigRanking(limit, cursor === undefined ? undefined : decodeCursor(cursor));
      return rankingPage(items, limit, (g) => [g.rankScore, g.gigId], served);
    },
  );

  app.get(
    '/gigs/:gigId',
    { schema: { summary: "A gig's ranking document", params: z.object({ gigId: id('gigId') }), response: { 200: gig } } },
    async (request) => {
      const found = await services.gig(request.params.gigId);
      if (found === undefined)
        throw new gatewayErrors.NOT_FOUND(`no boosts, payments or spending recorded for gig ${request.params.gigId}`);
      return served(found);
    },
  );

  app.get(
    '/clans/ranking',
    {
      schema: {
        summary: 'Clans by reputation, best first (ties by id)',
        querystring: page,
        response: { 200: z.object({ items: z.array(clan), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const items = await services.clanRanking(limit, cursor === undefined ? undefined : decodeCursor(cursor));
      return rankingPage(items, limit, (c) => [c.reputation, c.clanId], served);
    },
  );

  app.get(
    '/clans/:clanId/reputation',
    { schema: { summary: "A clan's reputation", params: z.object({ clanId: id('clanId') }), response: { 200: clan } } },
    async (request) => served(await services.clanReputation(request.params.clanId)),
  );
};
