import { z } from 'zod';
import { accountLimits, boostTargetTypes, isValidText, msPerHour, spendTargetTypes } from '../../../ledger/src/index.js';
import { newId } from '../ids.js';

// ---------------------------------------------------------------------------------------------
// Request schemas: the seed's bodies, validated at the edge with the ledger's own limits.
// ---------------------------------------------------------------------------------------------

/** Every id a command brings is a new name: normalised to NFC and checked (../ids.ts). */
const id = newId;
const amount = z
  .number()
  .int('amount must be a whole number of credits')
  .min(1, 'amount must be at least 1 credit')
  .max(accountLimits.amountPerCommandMax, `amount must be at most ${accountLimits.amountPerCommandMax} credits`)
  .describe('whole credits');
const duration = z
  .number()
  .refine((h) => Number.isFinite(h) && Math.round(h * msPerHour) >= 1, 'duration must be greater than zero (at least 1 ms)')
  .refine(
    (h) => h <= accountLimits.boostDurationHoursMax,
    `duration must be at most ${accountLimits.boostDurationHoursMax} hours`,
  )
  .describe('hours, fractions allowed');
/** Services and admins may act on another account by naming it; users may only name their own. */
const onBehalfOf = { userId: id('the account to act on (services and admins; defaults to the caller)').optional() };

export const boostProfileBody = z.strictObject({ targetUserId: id('targetUserId'), amount, duration, ...onBehalfOf });
export const boostGigBody = z.strictObject({ targetGigId: id('targetGigId'), amount, duration, ...onBehalfOf });
export const boostClanBody = z.strictObject({ targetClanId: id('targetClanId'), amount, duration, ...onBehalfOf });
/** A purchase is the payment service telling the ledger a payment was captured: it names the account. */
export const purchaseBody = z.strictObject({ userId: id('userId'), amount, paymentRef: id('paymentRef') });
export const spendBody = z.strictObject({
  amount,
  targetType: z.enum(spendTargetTypes),
  targetId: id('targetId'),
  reason: z
    .string()
    .refine(isValidText, `reason must be at most ${accountLimits.textLengthMax} characters without control characters`)
    .optional(),
  ...onBehalfOf,
});
export const earnBody = z.strictObject({ userId: id('userId'), amount, source: id('source'), refId: id('refId') });
export const gigPaymentBody = z.strictObject({ gigId: id('gigId'), payeeId: id('payeeId'), amount, ...onBehalfOf });
export const clanContributionBody = z.strictObject({ clanId: id('clanId'), amount, ...onBehalfOf });

export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .optional()
    .describe('makes the command safe to retry: same key and body → same answer, charged once'),
});

// ---------------------------------------------------------------------------------------------
// Response schemas
// ---------------------------------------------------------------------------------------------

export const boostResponse = z.object({
  boostId: z.string(),
  eventId: z.string(),
  targetType: z.enum(boostTargetTypes),
  targetId: z.string(),
  amount: z.number(),
  durationHours: z.number(),
  expiresAt: z.string().describe('ISO 8601, UTC'),
  balance: z.number(),
});
export const movementResponse = z.object({
  eventId: z.string(),
  eventIds: z.array(z.string()),
  type: z.string(),
  amount: z.number(),
  balance: z.number(),
  revision: z.number(),
});
export const gigPaymentResponse = movementResponse.extend({ transferId: z.string(), payeeId: z.string(), gigId: z.string() });

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
export const commandErrors = {
  400: errorResponse,
  401: errorResponse,
  403: errorResponse,
  409: errorResponse,
  422: errorResponse,
  429: errorResponse,
};
