import { afterEach, describe, expect, it } from 'vitest';
import { AccountCommandHandler, type AccountCommand } from '../../../ledger/src/index.js';
import { removeTempDirs } from '../../../ledger/src/testing/index.js';
import {
  clanContributorCodec,
  clanReputationCodec,
  emptyClanContributor,
  emptyClanReputation,
  emptyGigRanking,
  emptyUserVisibility,
  gigRankingCodec,
  ServiceReadModelsProjection,
  userVisibilityCodec,
  type Write,
} from '../../../projections/src/index.js';
import { bearer, dataDirWithReadModels, openTestApp, settle, type TestApp } from '../testing/testApp.js';

// The services' read-model routes over totals that nothing bounds: exact past 2^53, ranked in value order.

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  removeTempDirs();
});

const get = (app: TestApp, url: string) => app.app.inject({ url, headers: bearer('reader') });
const context = { actor: 'test', correlationId: 'seed', causationId: 'seed' };

/** A data directory whose service read models already hold `writes` (what a long history left there). */
const seededDataDir = (writes: (collection: (name: string) => string) => Write[]): Promise<string> =>
  dataDirWithReadModels(async (seeded) => {
    await new ServiceReadModelsProjection(seeded).loadCheckpoint();
    await seeded.commit(writes((name) => `${name}__v1`));
  });

const near = 2n ** 53n - 5n;

describe('service read models past 2^53', () => {
  it('keep a profile, a gig and a clan exact past 2^53, serve them as decimal strings and stay live', async () => {
    const path = await seededDataDir((c) => [
      {
        op: 'put',
        collection: c('user_visibility'),
        id: 'star',
        position: -1,
        doc: userVisibilityCodec.encode({
          ...emptyUserVisibility('star'),
          visibilityScore: near,
          activeBoostCredits: near,
          boostCreditsReceived: near,
        }),
      },
      {
        op: 'put',
        collection: c('gig_ranking'),
        id: 'gig-big',
        position: -1,
        doc: gigRankingCodec.encode({
          ...emptyGigRanking('gig-big'),
          paymentsTotal: near,
          creditsSpentOn: near,
          rankScore: near,
        }),
      },
      {
        op: 'put',
        collection: c('clan_reputation'),
        id: 'clan-big',
        position: -1,
        doc: clanReputationCodec.encode({
          ...emptyClanReputation('clan-big'),
          contributionsTotal: near,
          reputation: near,
          contributors: 1,
          topContributors: [{ userId: 'whale', total: near }],
        }),
      },
      {
        op: 'put',
        collection: c('clan_contributors'),
        id: JSON.stringify(['clan-big', 'whale']),
        position: -1,
        doc: clanContributorCodec.encode({ ...emptyClanContributor('clan-big', 'whale'), total: near, since: 0 }),
      },
    ]);
    const app = (t = await openTestApp({ path, withProjections: true }));
    const handler = new AccountCommandHandler(app.store);
    type Unstamped = AccountCommand extends infer C ? (C extends AccountCommand ? Omit<C, 'now'> : never) : never;
    const run = async (userId: string, command: Unstamped) => {
      const result = await handler.execute(userId, { ...command, now: app.clock.now() }, context);
      expect(result.ok).toBe(true);
    };
    await run('whale', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p' });
    await run('whale', {
      type: 'ActivateBoost',
      boostId: 'b1',
      targetType: 'profile',
      targetId: 'star',
      amount: 10,
      durationHours: 1,
    });
    await run('whale', {
      type: 'ActivateBoost',
      boostId: 'b2',
      targetType: 'gig',
      targetId: 'gig-big',
      amount: 10,
      durationHours: 1,
    });
    await run('whale', { type: 'SpendCredits', amount: 10, targetType: 'gig', targetId: 'gig-big', reason: '' });
    await run('whale', { type: 'PayForGig', transferId: 't1', gigId: 'gig-big', payeeId: 'seller', amount: 10 });
    await run('whale', { type: 'ContributeToClan', clanId: 'clan-big', amount: 10 });
    await settle(app);

    // Nothing stopped: /ready is green and every route answers 200 with exact decimal strings.
    expect((await app.app.inject({ url: '/ready' })).statusCode).toBe(200);
    for (const status of (await app.projections?.statuses()) ?? []) expect(status.failedOn).toBeUndefined();
    const star = await get(app, '/api/users/star/visibility');
    expect(star.statusCode).toBe(200);
    expect(star.json()).toMatchObject({
      visibilityScore: '9007199254740997',
      activeBoostCredits: '9007199254740997',
      boostCreditsReceived: '9007199254740997',
    });
    const gig = await get(app, '/api/gigs/gig-big');
    expect(gig.json()).toMatchObject({
      rankScore: (near + 10n + 100n * 10n).toString(), // the seeded score, plus the spend, plus the boost's 100 per credit
      creditsSpentOn: '9007199254740997',
      paymentsTotal: '9007199254740997',
      activeBoostCredits: '10',
    });
    const clan = await get(app, '/api/clans/clan-big/reputation');
    expect(clan.json()).toMatchObject({
      reputation: '9007199254740997',
      contributionsTotal: '9007199254740997',
      topContributors: [{ userId: 'whale', total: '9007199254740997' }],
    });
    const ranking = (await get(app, '/api/gigs/ranking?limit=1')).json();
    expect(ranking.items).toEqual([expect.objectContaining({ gigId: 'gig-big', rankScore: '9007199254741997' })]);

    // Still live: the next event is folded too.
    await run('whale', { type: 'ContributeToClan', clanId: 'clan-big', amount: 1 });
    await settle(app);
    expect((await get(app, '/api/clans/clan-big/reputation')).json()).toMatchObject({ contributionsTotal: '9007199254740998' });
  });

  it('ranks by exact score across digit counts and 2^53, and a cursor pages across them', async () => {
    const scores: [string, bigint][] = [
      ['a-nine', 9n],
      ['b-ten', 10n],
      ['c-zero', 0n],
      ['d-below', 2n ** 53n - 1n],
      ['e-at', 2n ** 53n],
      ['f-past', 2n ** 53n + 1n],
      ['g-at-too', 2n ** 53n], // a tie with e-at: by id
      ['h-huge', 10n ** 20n],
      ['i-99', 99n],
      ['j-100', 100n],
    ];
    const path = await seededDataDir((c) =>
      scores.flatMap(([id, score]): Write[] => [
        {
          op: 'put',
          collection: c('gig_ranking'),
          id,
          position: -1,
          doc: gigRankingCodec.encode({ ...emptyGigRanking(id), creditsSpentOn: score, rankScore: score }),
        },
        {
          op: 'put',
          collection: c('clan_reputation'),
          id,
          position: -1,
          doc: clanReputationCodec.encode({ ...emptyClanReputation(id), contributionsTotal: score, reputation: score }),
        },
      ]),
    );
    const app = (t = await openTestApp({ path, withProjections: true }));
    await new AccountCommandHandler(app.store).execute(
      'someone',
      { type: 'PurchaseCredits', amount: 1, paymentRef: 'p', now: app.clock.now() },
      context,
    );
    await settle(app);
    const expected = [...scores]
      .sort(([a, x], [b, y]) => (x === y ? (a < b ? -1 : 1) : x > y ? -1 : 1))
      .map(([id, score]) => [id, score.toString()]);
    expect(expected.slice(0, 4)).toEqual([
      ['h-huge', '100000000000000000000'],
      ['f-past', '9007199254740993'],
      ['e-at', '9007199254740992'],
      ['g-at-too', '9007199254740992'],
    ]);

    for (const [route, score] of [
      ['/api/gigs/ranking', 'rankScore'],
      ['/api/clans/ranking', 'reputation'],
    ] as const) {
      const seen: [string, string][] = [];
      let cursor: string | null = null;
      do {
        const response = await get(app, `${route}?limit=3${cursor === null ? '' : `&cursor=${cursor}`}`);
        expect(response.statusCode, response.body).toBe(200);
        const page = response.json<{ items: Record<string, string>[]; nextCursor: string | null }>();
        seen.push(...page.items.map((item): [string, string] => [item.gigId ?? item.clanId ?? '', item[score] ?? '']));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen).toEqual(expected);
    }

    // A cursor handed out before exact scores (a JSON number) still pages; a score that is no integer is refused.
    const old = Buffer.from(JSON.stringify([10, 'b-ten'])).toString('base64url');
    const after = (await get(app, `/api/gigs/ranking?limit=2&cursor=${old}`)).json();
    expect(after.items.map((g: { gigId: string }) => g.gigId)).toEqual(['a-nine', 'c-zero']);
    const bad = Buffer.from(JSON.stringify(['1e3', 'b-ten'])).toString('base64url');
    expect((await get(app, `/api/gigs/ranking?cursor=${bad}`)).json()).toMatchObject({ statusCode: 400, code: 'INVALID_CURSOR' });
  });
});

describe('the OpenAPI document', () => {
  it('describes totals and scores as decimal strings, counts as numbers', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    const spec = (await app.app.inject({ url: '/docs/json' })).json();
    const gig = spec.paths['/api/gigs/{gigId}'].get.responses['200'].content['application/json'].schema;
    expect(gig.properties.rankScore).toMatchObject({ type: 'string', pattern: expect.any(String) });
    expect(gig.properties.paymentsTotal).toMatchObject({ type: 'string' });
    expect(gig.properties.paymentsCount).toMatchObject({ type: 'number' });
    const clans = spec.paths['/api/clans/ranking'].get.responses['200'].content['application/json'].schema;
    const clan = clans.properties.items.items;
    expect(clan.properties.reputation).toMatchObject({ type: 'string' });
    expect(clan.properties.topContributors.items.properties.total).toMatchObject({ type: 'string' });
  });
});
