import { addToTotal } from '../readModels/totals.js';
import { scores, type GigRankingDocument, type ServiceEvent, type Unscored } from './documents.js';

/**
 * The gig service's fold: a gig's ranking after one more event. Boosts of the gig, credits spent on it
 * and payments for it change it; any other event leaves the document as it is. Payments are counted
 * beside the score, not in it (`scores.rank`). Pure: no store, no clock.
 */
export const evolveGigRanking = (doc: GigRankingDocument, { event }: ServiceEvent): GigRankingDocument => {
  switch (event.type) {
    case 'BoostActivated': {
      const { targetType, targetId, amount, activatedAt } = event.data;
      if (targetType !== 'gig' || targetId !== doc.gigId) return doc;
      return scored({
        ...doc,
        activeBoostCount: doc.activeBoostCount + 1,
        activeBoostCredits: addToTotal(doc.activeBoostCredits, amount),
        lastBoostAt: activatedAt,
      });
    }
    case 'BoostExpired': {
      // The event carries the boost's amount, so exactly its share comes off without a lookup.
      const { targetType, targetId, amount } = event.data;
      if (targetType !== 'gig' || targetId !== doc.gigId) return doc;
      return scored({
        ...doc,
        activeBoostCount: doc.activeBoostCount - 1,
        activeBoostCredits: addToTotal(doc.activeBoostCredits, -amount),
      });
    }
    case 'CreditsSpent': {
      const { targetType, targetId, amount } = event.data;
      if (targetType !== 'gig' || targetId !== doc.gigId) return doc;
      return scored({ ...doc, creditsSpentOn: addToTotal(doc.creditsSpentOn, amount) });
    }
    case 'GigPaymentSent': {
      const { gigId, amount } = event.data;
      if (gigId !== doc.gigId) return doc;
      // Shown beside the score only: the credits are still the users' (the payee's, once settled).
      return { ...doc, paymentsTotal: addToTotal(doc.paymentsTotal, amount), paymentsCount: doc.paymentsCount + 1 };
    }
    case 'CreditsPurchased':
    case 'CreditsEarned':
    case 'GigPaymentReceived':
    case 'ClanContributionMade':
      return doc;
  }
};

const scored = (doc: Unscored<GigRankingDocument>): GigRankingDocument => {
  doc.rankScore = scores.rank(doc);
  return doc;
};
