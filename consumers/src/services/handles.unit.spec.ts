import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ledgerMessageSchema, type LedgerMessage } from '../../../projections/src/index.js';
import { handles, type ServiceName } from './serviceStore.js';

// The documented example of each message type (docs/reference/messages.md), valid against the relay's schema.
const examples = [
  ...readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'reference', 'messages.md'), 'utf8').matchAll(
    /```json\n([\s\S]*?)```/g,
  ),
].map((m) => ledgerMessageSchema.parse(JSON.parse(m[1] ?? '')));
const example = <T extends LedgerMessage['type']>(type: T): Extract<LedgerMessage, { type: T }> => {
  const found = examples.find((m) => m.type === type);
  if (found === undefined) throw new Error(`no documented example of ${type}`);
  return found as Extract<LedgerMessage, { type: T }>;
};

/** A message as each service sees it: the label, then whether user, gig, clan handle it. */
const cases: [string, LedgerMessage, Record<ServiceName, boolean>][] = [
  ['profile_boost', example('profile_boost'), { user: true, gig: false, clan: false }],
  ['gig_boost', example('gig_boost'), { user: false, gig: true, clan: false }],
  ['clan_boost', example('clan_boost'), { user: false, gig: false, clan: true }],
  ['boost_expired profile', { ...example('boost_expired'), targetType: 'profile' }, { user: true, gig: false, clan: false }],
  ['boost_expired gig', { ...example('boost_expired'), targetType: 'gig' }, { user: false, gig: true, clan: false }],
  ['boost_expired clan', { ...example('boost_expired'), targetType: 'clan' }, { user: false, gig: false, clan: true }],
  ['credit_purchase', example('credit_purchase'), { user: true, gig: false, clan: false }],
  ['credit_earned', example('credit_earned'), { user: true, gig: false, clan: false }],
  ['credit_spent gig', { ...example('credit_spent'), targetType: 'gig' }, { user: true, gig: true, clan: false }],
  ['credit_spent clan', { ...example('credit_spent'), targetType: 'clan' }, { user: true, gig: false, clan: true }],
  ['credit_spent profile', { ...example('credit_spent'), targetType: 'profile' }, { user: true, gig: false, clan: false }],
  ['credit_spent other', { ...example('credit_spent'), targetType: 'other' }, { user: true, gig: false, clan: false }],
  ['gig_payment', example('gig_payment'), { user: false, gig: true, clan: false }],
  ['clan_contribution', example('clan_contribution'), { user: false, gig: false, clan: true }],
];

describe("which messages each service handles (the seed's lists, plus the expiry of its own boosts)", () => {
  it.each(cases)('%s', (_label, message, expected) => {
    expect({ user: handles('user', message), gig: handles('gig', message), clan: handles('clan', message) }).toEqual(expected);
  });
});
