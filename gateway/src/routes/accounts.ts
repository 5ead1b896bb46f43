import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isValidId } from '../../../ledger/src/index.js';
import { describeFailedEvent, type ProjectionReads } from '../../../projections/src/index.js';
import { gatewayErrors } from '../errors.js';

export interface AccountRoutesOptions {
  readonly projections: ProjectionReads;
}

const accountId = z
  .string()
  .max(200)
  .refine((value) => {
    const [kind, ...rest] = value.split(':');
    const id = rest.join(':');
    return rest.length === 0 ? isValidId(value) : (kind === 'user' || kind === 'clan' || kind === 'platform') && isValidId(id);
  }, 'accountId is a user id, or user:{id}, clan:{id} or platform:{name}');

/**
 * GET /api/accounts/:accountId/balance (admin): any account's balance from the account_balances read
 * model, the derived platform and clan accounts included, so the books can be checked from outside.
 */
export const accountRoutes: FastifyPluginAsyncZod<AccountRoutesOptions> = async (app, { projections }) => {
  app.get(
    '/:accountId/balance',
    {
      schema: {
        summary: "Any account's balance, platform and clan accounts included (admin)",
        params: z.object({ accountId }),
        response: {
          200: z.object({
            account: z.string(),
            kind: z.enum(['user', 'platform', 'clan']),
            /** A decimal string: platform and clan balances have no bound (users' keep the ledger's limits). */
            balance: z.string().regex(/^-?[0-9]+$/),
            position: z.number(),
            lagEvents: z.number(),
          }),
        },
      },
    },
    async (request) => {
      if (!request.user.roles.includes('admin')) throw new gatewayErrors.FORBIDDEN('reading any account needs the admin role');
      const status = (await projections.statuses()).find((s) => s.name === 'account_balances');
      if (status?.failedOn !== undefined)
        throw new gatewayErrors.PROJECTION_STOPPED(describeFailedEvent(status.name, status.failedOn));
      if (status === undefined || !status.caughtUpOnce) {
        throw new gatewayErrors.READ_MODEL_NOT_READY(
          `account_balances is still being built: ${status?.lagEvents ?? 'unknown'} events behind (${status?.lagMs ?? 0} ms)`,
        );
      }
      const found = await projections.balances.balanceOf(request.params.accountId);
      const account = request.params.accountId.includes(':') ? request.params.accountId : `user:${request.params.accountId}`;
      return found === undefined
        ? {
            account,
            kind: account.startsWith('clan:')
              ? ('clan' as const)
              : account.startsWith('platform:')
                ? ('platform' as const)
                : ('user' as const),
            balance: '0',
            position: -1,
            lagEvents: status.lagEvents,
          }
        : { ...found, balance: found.balance.toString(), lagEvents: status.lagEvents };
    },
  );
};
