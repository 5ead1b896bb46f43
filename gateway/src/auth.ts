import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isValidId } from '../../ledger/src/accounts/events.js';
import { gatewayLimits, type GatewayConfig } from './config.js';
import { gatewayErrors } from './errors.js';

export const roles = ['user', 'service', 'admin'] as const;
export type Role = (typeof roles)[number];

export interface AuthUser {
  readonly id: string;
  readonly roles: readonly Role[];
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; roles?: Role[] };
    user: AuthUser;
  }
}

const claimsSchema = z.object({
  sub: z.string().refine(isValidId, 'sub must be a valid user id'),
  roles: z.array(z.enum(roles)).min(1).default(['user']),
  exp: z.number(),
});

/**
 * Bearer JWT on every /api route: HS256 with JWT_SECRET, or RS256 with a public key. `exp` and `sub`
 * are required, `roles` ⊆ {user, service, admin}. Anything wrong with the token is a 401 and nothing
 * runs; the right to act is checked per route (403).
 */
export const registerAuth = async (app: FastifyInstance, config: GatewayConfig): Promise<void> => {
  await app.register(fastifyJwt, {
    secret: config.auth.algorithm === 'HS256' ? config.auth.secret : { public: config.auth.publicKey },
    // Verified tokens are cached (a client reuses its token for many requests); a cached entry never
    // outlives the token's own exp.
    verify: { algorithms: [config.auth.algorithm], requiredClaims: ['sub', 'exp'], cache: gatewayLimits.verifiedTokensCachedMax },
    formatUser: (payload) => {
      const claims = claimsSchema.safeParse(payload);
      if (!claims.success)
        throw new gatewayErrors.UNAUTHORIZED(`token claims are invalid: ${claims.error.issues[0]?.message ?? ''}`);
      return { id: claims.data.sub, roles: claims.data.roles };
    },
  });
};

export const authenticate = async (request: FastifyRequest): Promise<void> => {
  try {
    await request.jwtVerify();
  } catch (error) {
    if (error instanceof gatewayErrors.UNAUTHORIZED) throw error;
    const reason = (error as Error).message || 'invalid token';
    throw new gatewayErrors.UNAUTHORIZED(
      reason.startsWith('No Authorization') ? 'missing Authorization: Bearer <token>' : reason,
    );
  }
};

export const isPrivileged = (user: AuthUser): boolean => user.roles.includes('service') || user.roles.includes('admin');

/** Who this request is recorded as: `admin:{id}`, `service:{id}` or `user:{id}`. */
export const actorOf = (user: AuthUser): string =>
  `${user.roles.includes('admin') ? 'admin' : user.roles.includes('service') ? 'service' : 'user'}:${user.id}`;

/** The account a request acts on: the caller's own, or another one for services and admins. */
export const accountFor = (user: AuthUser, requestedUserId: string | undefined): string => {
  if (requestedUserId === undefined || requestedUserId === user.id) return user.id;
  if (!isPrivileged(user)) throw new gatewayErrors.FORBIDDEN('acting on another account needs the service or admin role');
  return requestedUserId;
};
