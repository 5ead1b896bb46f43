import { createVerifier, TokenError } from 'fast-jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isValidId } from '../../ledger/src/index.js';
import { gatewayLimits, type GatewayConfig } from './config.js';
import { gatewayErrors } from './errors.js';

export const roles = ['user', 'service', 'admin'] as const;
export type Role = (typeof roles)[number];

export interface AuthUser {
  readonly id: string;
  readonly roles: readonly Role[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller (set by `authenticate` on every /api route). */
    user: AuthUser;
  }
}

const claimsSchema = z.object({
  sub: z.string().refine(isValidId, 'sub must be a valid user id'),
  roles: z.array(z.enum(roles)).min(1).default(['user']),
  exp: z.number(),
});

// The scheme name is case-insensitive (RFC 9110 §11.1).
const bearerPattern = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;

/**
 * Bearer JWT on every /api route: HS256 with JWT_SECRET, or RS256 with a public key. `exp` and `sub`
 * are required, `roles` ⊆ {user, service, admin}. Anything wrong with the token is a 401 and nothing
 * runs; the right to act is checked per route (403).
 *
 * fast-jwt directly (the verifier @fastify/jwt wraps, without its per-request decoding and option
 * merging): verified tokens are cached (a client reuses its token for many requests) and a cached
 * entry never outlives the token's own exp; the checked claims are cached beside them.
 */
export const registerAuth = (app: FastifyInstance, config: GatewayConfig): void => {
  const verify = createVerifier({
    key: config.auth.algorithm === 'HS256' ? config.auth.secret : config.auth.publicKey,
    algorithms: [config.auth.algorithm],
    requiredClaims: [
      'sub',
      'exp',
      ...(config.jwtAudience === undefined ? [] : ['aud']),
      ...(config.jwtIssuer === undefined ? [] : ['iss']),
    ],
    ...(config.jwtAudience === undefined ? {} : { allowedAud: config.jwtAudience }),
    ...(config.jwtIssuer === undefined ? {} : { allowedIss: config.jwtIssuer }),
    // Cached under fast-jwt's own key, a SHA digest of the token: the cache's memory stays bounded by
    // its entry count whatever the size of the tokens sent, forged ones included (they are cached too).
    cache: gatewayLimits.verifiedTokensCachedMax,
  });
  const users = new WeakMap<object, AuthUser>();
  const userOf = (payload: unknown): AuthUser => {
    const known = typeof payload === 'object' && payload !== null ? users.get(payload) : undefined;
    if (known !== undefined) return known;
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success)
      throw new gatewayErrors.UNAUTHORIZED(`token claims are invalid: ${claims.error.issues[0]?.message ?? ''}`);
    const user = { id: claims.data.sub, roles: claims.data.roles };
    users.set(payload as object, user);
    return user;
  };
  app.decorateRequest('user', null as unknown as AuthUser);
  app.decorate('authenticateRequest', (request: FastifyRequest): void => {
    const header = request.headers.authorization;
    if (header === undefined) throw new gatewayErrors.UNAUTHORIZED('missing Authorization: Bearer <token>');
    const token = bearerPattern.exec(header)?.[1];
    if (token === undefined) throw new gatewayErrors.UNAUTHORIZED('Authorization must be Bearer <token>');
    let payload: unknown;
    try {
      payload = verify(token);
    } catch (error) {
      throw new gatewayErrors.UNAUTHORIZED(error instanceof TokenError ? error.message : 'invalid token');
    }
    request.user = userOf(payload);
  });
};

declare module 'fastify' {
  interface FastifyInstance {
    authenticateRequest(request: FastifyRequest): void;
  }
}

/** The onRequest hook of every /api route (callback style: no promise per request). */
export const authenticate = function (
  this: FastifyInstance,
  request: FastifyRequest,
  _reply: unknown,
  done: (error?: Error) => void,
): void {
  let failure: Error | undefined;
  try {
    this.authenticateRequest(request);
  } catch (error) {
    failure = error as Error;
  }
  done(failure);
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
