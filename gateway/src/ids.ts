import { z } from 'zod';
import { accountLimits, isValidId } from '../../ledger/src/index.js';

/**
 * Ids a command brings (targets, gigs, payees, clans, payment and earning references, the account
 * named with `userId`) are new names, so they must not be made to look like another: each is
 * normalised to Unicode NFC (so `é` precomposed and `e` + combining accent are one id), and refused when
 * it is blank or starts or ends with whitespace, or holds a control, format (zero-width space and
 * joiners, bidirectional overrides and isolates, soft hyphen, BOM), surrogate or line/paragraph
 * separator character. This is not a confusables check (Latin `a` and Cyrillic `а` stay distinct ids):
 * it removes the invisible and reordering characters that make two different ids print the same.
 *
 * Ids read back (paths and query strings) keep the ledger's older, wider rule (`isValidId`) and are
 * looked up exactly as sent, so an id written before this rule stays readable under its own bytes.
 */
const unsafeCharacter = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
const edgeWhitespace = /^\s|\s$/u;

/** The code of the 400 a client meets for such an id (see errors.ts and docs/reference/api.md). */
export const invalidIdCode = 'INVALID_ID';

/** Why `value` (already NFC) cannot be a new id, or undefined when it can. */
export const newIdProblem = (value: string): string | undefined => {
  if (value.length === 0 || value.length > accountLimits.idLengthMax)
    return `must be 1 to ${accountLimits.idLengthMax} characters`;
  if (value.trim().length === 0) return 'must not be blank';
  if (edgeWhitespace.test(value)) return 'must not start or end with whitespace';
  if (unsafeCharacter.test(value)) return 'must not contain control, zero-width or bidirectional-control characters';
  // The ledger's own rule, so whatever the gateway accepts the ledger accepts too.
  if (!isValidId(value)) return 'is not a valid id';
  return undefined;
};

/** A new id in a command body: NFC, checked, refused with the `INVALID_ID` code. */
export const newId = (what: string) =>
  z
    .string()
    .transform((value, context) => {
      const normalized = value.normalize('NFC');
      const problem = newIdProblem(normalized);
      if (problem !== undefined) {
        context.addIssue({ code: 'custom', message: `${what} ${problem}`, params: { code: invalidIdCode } });
        return z.NEVER;
      }
      return normalized;
    })
    .describe(
      `${what}: 1 to ${accountLimits.idLengthMax} characters, normalised to NFC; no blank, control, zero-width or bidirectional-control characters`,
    );
