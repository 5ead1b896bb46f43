import { addToTotal } from '../readModels/totals.js';
import { scores, type ServiceEvent, type Unscored, type UserVisibilityDocument } from './documents.js';

/**
 * The user service's fold: a user's visibility after one more event. Only boosts of this user's
 * profile change it; any other event leaves the document as it is. Pure: no store, no clock.
 */
export const evolveUserVisibility = (doc: UserVisibilityDocument, { event }: ServiceEvent): UserVisibilityDocument => {
  switch (event.type) {
    case 'BoostActivated': {
      const { targetType, targetId, amount, activatedAt } = event.data;
      if (targetType !== 'profile' || targetId !== doc.userId) return doc;
      return scored({
        ...doc,
        activeBoostCount: doc.activeBoostCount + 1,
        activeBoostCredits: addToTotal(doc.activeBoostCredits, amount),
        lastBoostAt: activatedAt,
        boostsReceived: doc.boostsReceived + 1,
        boostCreditsReceived: addToTotal(doc.boostCreditsReceived, amount),
      });
    }
    case 'BoostExpired': {
      // The event carries the boost's amount, so exactly its share comes off without a lookup.
      const { targetType, targetId, amount } = event.data;
      if (targetType !== 'profile' || targetId !== doc.userId) return doc;
      return scored({
        ...doc,
        activeBoostCount: doc.activeBoostCount - 1,
        activeBoostCredits: addToTotal(doc.activeBoostCredits, -amount),
      });
    }
    case 'CreditsPurchased':
    case 'CreditsSpent':
    case 'CreditsEarned':
    case 'GigPaymentSent':
    case 'GigPaymentReceived':
    case 'ClanContributionMade':
      return doc;
  }
};

const scored = (doc: Unscored<UserVisibilityDocument>): UserVisibilityDocument => {
  doc.visibilityScore = scores.visibility(doc);
  return doc;
};
