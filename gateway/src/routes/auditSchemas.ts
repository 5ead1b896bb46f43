import { DateTime } from 'luxon';
import { z } from 'zod';
import { isValidId, platformAccounts } from '../../../ledger/src/index.js';
import type { AuthUser } from '../auth.js';
import { gatewayErrors } from '../errors.js';

// The audit routes' schemas, cursors and access rule (the routes themselves are in audit.ts).

/**
 * A user account: a bare user id or `user:{id}`. The counterparty legs of platform and clan accounts
 * need an index over the whole log and are not served here yet.
 */
export const accountId = z
  .string()
  .max(200)
  .refine(
    (value) => isValidId(value.startsWith('user:') ? value.slice('user:'.length) : value) && !/^(clan|platform):/.test(value),
    'accountId is a user id or user:{id} (platform and clan accounts are not audited here yet)',
  )
  .transform((value) => (value.startsWith('user:') ? value.slice('user:'.length) : value));

/**
 * Any account: a user's (as above), or one the ledger derives from the legs naming it as
 * counterparty, `platform:{name}` or `clan:{id}`.
 */
export const platformAccountIds: readonly string[] = Object.values(platformAccounts);
export const anyAccountId = z
  .string()
  .max(200)
  .refine(
    (value) =>
      platformAccountIds.includes(value) ||
      (value.startsWith('clan:') && isValidId(value.slice('clan:'.length))) ||
      (!/^(clan|platform):/.test(value) && isValidId(value.startsWith('user:') ? value.slice('user:'.length) : value)),
    `accountId is a user id, user:{id}, clan:{id} or one of ${platformAccountIds.join(', ')}`,
  )
  .transform((value) =>
    /^(clan|platform):/.test(value)
      ? { kind: 'counterparty' as const, account: value }
      : { kind: 'user' as const, userId: value.startsWith('user:') ? value.slice('user:'.length) : value },
  );

/** An ISO 8601 instant with an offset (Z or ±hh:mm); luxon reads it, the route compares it in UTC. */
export const instant = (name: string) =>
  z
    .string()
    .max(64)
    .refine((value) => /(Z|[+-]\d{2}:?\d{2})$/.test(value) && DateTime.fromISO(value, { setZone: true }).isValid, {
      message: `${name} must be an ISO 8601 instant with an offset, such as 2026-06-29T13:30:00Z`,
    })
    .transform((value) => DateTime.fromISO(value, { setZone: true }).toUTC());

export const utcMs = (t: DateTime): string => t.toUTC().toISO() ?? '';

export const entry = z.object({
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
export const encodeCursor = (revision: number): string => Buffer.from(`a${revision}`).toString('base64url');
export const decodeCursor = (cursor: string): number => {
  const match = /^a(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match?.[1] === undefined) throw new gatewayErrors.INVALID_CURSOR();
  return Number(match[1]);
};

/** Counterparty cursors: the log position to continue from. */
export const encodePositionCursor = (position: number): string => Buffer.from(`p${position}`).toString('base64url');
export const decodePositionCursor = (cursor: string): number => {
  const match = /^p(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match?.[1] === undefined) throw new gatewayErrors.INVALID_CURSOR();
  return Number(match[1]);
};

/** Admins audit every account; a user only their own. Services have no audit access. */
export const mayAudit = (user: AuthUser, userId: string): void => {
  if (user.roles.includes('admin') || (user.id === userId && user.roles.includes('user'))) return;
  throw new gatewayErrors.FORBIDDEN('auditing another account needs the admin role');
};
