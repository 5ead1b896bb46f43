import { afterEach, describe, expect, it } from 'vitest';
import { readModelStoreLimits, type CollectionSpec, type ReadModelStore, type StoredDoc, type Write } from './readModelStore.js';

/**
 * The read-model store contract: what every adapter must do, run against each (SQLite always,
 * MongoDB when MONGODB_URL is set). Projections and query routes rely on nothing else.
 */
export const runReadModelStoreContract = (
  name: string,
  open: () => Promise<{ store: ReadModelStore; cleanup: () => Promise<void> }>,
): void => {
  describe(`read-model store contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });
    const opened = async (): Promise<ReadModelStore> => {
      const { store, cleanup } = await open();
      cleanups.push(cleanup);
      return store;
    };
    const ranking: CollectionSpec = {
      name: 'contract_ranking',
      database: 'gig_service',
      indexes: [
        [
          ['score', -1],
          ['_id', 1],
        ],
      ],
    };
    const entries: CollectionSpec = {
      name: 'contract_entries',
      database: 'user_service',
      indexes: [
        [
          ['subjectId', 1],
          ['position', -1],
        ],
      ],
    };
    const strip = (docs: readonly StoredDoc[]): string[] => docs.map((d) => d._id);

    it('starts a checkpoint at -1 and only ever moves it forward', async () => {
      const store = await opened();
      expect(await store.checkpoint('p')).toBe(-1);
      await store.commit([], { name: 'p', position: 10 });
      expect(await store.checkpoint('p')).toBe(10);
      await store.commit([], { name: 'p', position: 4 });
      expect(await store.checkpoint('p')).toBe(10);
      expect(await store.checkpoint('other')).toBe(-1);
    });

    it('keeps documents exactly, unicode, nesting and nulls included, with their id and position', async () => {
      const store = await opened();
      await store.ensureCollection(ranking);
      const doc = { gigId: 'g/ü 🚀', score: 7, tags: ['a', { b: null }], note: '$not-an-operator', nested: { x: 1.5, y: false } };
      await store.commit([{ op: 'put', collection: ranking.name, id: 'g/ü 🚀', doc, position: 3 }]);
      expect(await store.get(ranking.name, 'g/ü 🚀')).toEqual({ ...doc, _id: 'g/ü 🚀', _position: 3 });
      expect(await store.get(ranking.name, 'missing')).toBeUndefined();
    });

    it('replaces a document only with a later position, so a replayed batch changes nothing', async () => {
      const store = await opened();
      await store.ensureCollection(ranking);
      const put = (score: number, position: number) =>
        ({ op: 'put', collection: ranking.name, id: 'g1', doc: { score }, position }) as const;
      await store.commit([put(1, 5)]);
      await store.commit([put(2, 9)]);
      await store.commit([put(99, 7)]); // an older batch, replayed
      await store.commit([put(98, 9)]); // the same position again
      expect(await store.get(ranking.name, 'g1')).toMatchObject({ score: 2, _position: 9 });
    });

    it('inserts a document only when its id is absent, and deletes idempotently', async () => {
      const store = await opened();
      await store.ensureCollection(entries);
      const insert = (amount: number) =>
        ({ op: 'insert', collection: entries.name, id: 'e1', doc: { subjectId: 'u1', position: 1, amount } }) as const;
      await store.commit([insert(5)]);
      await store.commit([insert(6)]);
      expect(await store.get(entries.name, 'e1')).toMatchObject({ amount: 5 });
      await store.commit([{ op: 'delete', collection: entries.name, id: 'e1' }]);
      await store.commit([{ op: 'delete', collection: entries.name, id: 'e1' }]);
      expect(await store.get(entries.name, 'e1')).toBeUndefined();
    });

    it('applies the writes of one commit in order (insert then delete of one id leaves nothing)', async () => {
      const store = await opened();
      await store.ensureCollection(entries);
      await store.commit(
        [
          { op: 'insert', collection: entries.name, id: 'b1', doc: { subjectId: 'u', position: 1 } },
          { op: 'insert', collection: entries.name, id: 'b2', doc: { subjectId: 'u', position: 2 } },
          { op: 'delete', collection: entries.name, id: 'b1' },
        ],
        { name: 'p', position: 2 },
      );
      expect(strip(await store.find(entries.name, { orderBy: [['_id', 1]] }))).toEqual(['b2']);
      expect(await store.checkpoint('p')).toBe(2);
    });

    it('keeps one-write-at-a-time semantics in a large commit with repeated ids', async () => {
      const store = await opened();
      await store.ensureCollection(ranking);
      await store.ensureCollection(entries);
      const writes: Write[] = [];
      // 137 puts over 7 ids, positions out of order within each id; 73 inserts over 20 ids; deletes of 5.
      for (let i = 0; i < 137; i++) {
        const position = (i * 37) % 137;
        writes.push({ op: 'put', collection: ranking.name, id: `g${i % 7}`, doc: { score: position }, position });
      }
      for (let i = 0; i < 73; i++)
        writes.push({ op: 'insert', collection: entries.name, id: `e${i % 20}`, doc: { subjectId: 's', position: i } });
      for (let i = 0; i < 5; i++) writes.push({ op: 'delete', collection: entries.name, id: `e${i}` });
      await store.commit(writes, { name: 'big', position: 500 });
      for (let g = 0; g < 7; g++) {
        const best = Math.max(
          ...writes.filter((w) => w.op === 'put' && w.id === `g${g}`).map((w) => (w.op === 'put' ? w.position : -1)),
        );
        expect(await store.get(ranking.name, `g${g}`)).toMatchObject({ score: best, _position: best });
      }
      const kept = await store.find(entries.name, { orderBy: [['position', 1]] });
      expect(kept.map((d) => d.position)).toEqual(Array.from({ length: 15 }, (_, i) => i + 5));
      expect(await store.checkpoint('big')).toBe(500);
    });

    it('takes ids up to idLengthMax (a composite id of the longest, most escaped ledger ids fits) and refuses longer ones', async () => {
      const store = await opened();
      await store.ensureCollection(entries);
      const longest = JSON.stringify(['"'.repeat(128), '\\'.repeat(128)]);
      expect(longest.length).toBe(519);
      const atLimit = 'x'.repeat(readModelStoreLimits.idLengthMax);
      await store.commit([
        { op: 'put', collection: entries.name, id: longest, position: 1, doc: { n: 1 } },
        { op: 'put', collection: entries.name, id: atLimit, position: 1, doc: { n: 2 } },
      ]);
      expect((await store.getMany(entries.name, [longest, atLimit])).size).toBe(2);
      await expect(
        store.commit([{ op: 'insert', collection: entries.name, id: `${atLimit}x`, doc: {} }], { name: 'ids-cp', position: 5 }),
      ).rejects.toThrow(/id longer than/);
      expect(await store.checkpoint('ids-cp')).toBe(-1); // nothing of a refused commit is kept
    });

    it('gets many documents by id, leaving out the missing ones', async () => {
      const store = await opened();
      await store.ensureCollection(ranking);
      await store.commit(
        ['a', 'b', 'c'].map((id, i) => ({ op: 'put', collection: ranking.name, id, doc: { score: i }, position: i })),
      );
      const found = await store.getMany(ranking.name, ['c', 'x', 'a']);
      expect([...found.keys()].sort()).toEqual(['a', 'c']);
      expect(found.get('c')).toMatchObject({ score: 2 });
      expect((await store.getMany(ranking.name, [])).size).toBe(0);
    });

    it('pages by score, ties broken by id, with a keyset cursor that continues exactly', async () => {
      const store = await opened();
      await store.ensureCollection(ranking);
      const scores = [5, 3, 5, 1, 3, 5, 0, 8];
      await store.commit(
        scores.map((score, i) => ({ op: 'put', collection: ranking.name, id: `g${i}`, doc: { score }, position: i })),
      );
      const orderBy = [
        ['score', -1],
        ['_id', 1],
      ] as const;
      const pages: string[][] = [];
      let after: (string | number)[] | undefined;
      for (;;) {
        const page = await store.find(ranking.name, { orderBy, limit: 3, ...(after === undefined ? {} : { after }) });
        if (page.length === 0) break;
        pages.push(strip(page));
        const last = page[page.length - 1];
        after = [last?.score as number, last?._id as string];
      }
      expect(pages).toEqual([
        ['g7', 'g0', 'g2'],
        ['g5', 'g1', 'g4'],
        ['g3', 'g6'],
      ]);
    });

    it('filters by equality and numeric ranges, and counts the same way', async () => {
      const store = await opened();
      await store.ensureCollection(entries);
      await store.commit(
        Array.from({ length: 10 }, (_, i) => ({
          op: 'insert' as const,
          collection: entries.name,
          id: `e${i}`,
          doc: { subjectId: i % 2 === 0 ? 'even' : 'odd', position: i },
        })),
      );
      const newestEven = await store.find(entries.name, {
        where: { subjectId: 'even' },
        orderBy: [['position', -1]],
        limit: 2,
      });
      expect(strip(newestEven)).toEqual(['e8', 'e6']);
      const middle = await store.find(entries.name, { where: { position: { gte: 3, lt: 6 } }, orderBy: [['position', 1]] });
      expect(strip(middle)).toEqual(['e3', 'e4', 'e5']);
      expect(await store.count(entries.name, { subjectId: 'odd', position: { gt: 4 } })).toBe(3);
      expect(await store.count(entries.name)).toBe(10);
    });

    it('answers one query under many conditions in one call, each condition as find answers it (its own limit)', async () => {
      const store = await opened();
      await store.ensureCollection(entries);
      // s0 has many entries (it must not crowd the others out of the answer), s1 a few, s2 one, s3 none.
      const counts = [40, 4, 1, 0];
      await store.commit(
        counts.flatMap((count, s) =>
          Array.from({ length: count }, (_, i) => ({
            op: 'insert' as const,
            collection: entries.name,
            id: `s${s}-${String(i).padStart(3, '0')}`,
            doc: { subjectId: `s${s}`, position: s * 1000 + i },
          })),
        ),
      );
      const query = { orderBy: [['position', -1]] as const, limit: 3 };
      const wheres = [
        { subjectId: 's1' },
        { subjectId: 's0' },
        { subjectId: 's3' },
        { subjectId: 's2' },
        { subjectId: 's0', position: { lt: 20 } },
        { subjectId: 's0' },
      ];
      const answers = await store.findEach(entries.name, query, wheres);
      expect(answers.map(strip)).toEqual(
        await Promise.all(wheres.map(async (where) => strip(await store.find(entries.name, { ...query, where })))),
      );
      expect(answers.map(strip)).toEqual([
        ['s1-003', 's1-002', 's1-001'],
        ['s0-039', 's0-038', 's0-037'],
        [],
        ['s2-000'],
        ['s0-019', 's0-018', 's0-017'],
        ['s0-039', 's0-038', 's0-037'],
      ]);
      const paged = await store.findEach(entries.name, { ...query, after: [1002] }, [{ subjectId: 's1' }, { subjectId: 's0' }]);
      expect(paged.map(strip)).toEqual([
        ['s1-001', 's1-000'],
        ['s0-039', 's0-038', 's0-037'],
      ]);
      // Many conditions (more than SQLite's 500 compound SELECTs, MongoDB's $unionWith stages are many too).
      const many = Array.from({ length: 505 }, (_, i) => ({ subjectId: `s${i % 4}` }));
      const manyAnswers = await store.findEach(entries.name, { ...query, limit: 1 }, many);
      expect(manyAnswers.map(strip)).toEqual(
        many.map((_, i) => (i % 4 === 3 ? [] : [`s${i % 4}-${['039', '003', '000'][i % 4]}`])),
      );
      expect(await store.findEach(entries.name, query, [])).toEqual([]);
      expect(await store.findEach(entries.name, { ...query, limit: 0 }, [{ subjectId: 's0' }])).toEqual([[]]);
      expect(await store.findEach('nothing_here', query, [{ subjectId: 's0' }])).toEqual([[]]);
    });

    it('orders fixed-width decimal strings (sort keys of exact totals) by value, across digit counts and 2^53', async () => {
      const store = await opened();
      await store.ensureCollection(ranking);
      const values = [9n, 10n, 0n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 53n - 1n, 10n ** 26n, 99n];
      await store.commit(
        values.map((value, i) => ({
          op: 'put' as const,
          collection: ranking.name,
          id: `v${i}`,
          doc: { score: value.toString().padStart(32, '0') },
          position: i,
        })),
      );
      const orderBy = [
        ['score', -1],
        ['_id', 1],
      ] as const;
      const first = await store.find(ranking.name, { orderBy, limit: 4 });
      const last = first.at(-1);
      const rest = await store.find(ranking.name, { orderBy, after: [last?.score as string, last?._id as string] });
      expect([...first, ...rest].map((doc) => BigInt(doc.score as string))).toEqual(
        [...values].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)),
      );
    });

    it('answers limit 0 with an empty page and refuses a negative limit', async () => {
      const store = await opened();
      await store.ensureCollection(ranking);
      await store.commit([{ op: 'put', collection: ranking.name, id: 'g', doc: { score: 1 }, position: 1 }]);
      expect(await store.find(ranking.name, { limit: 0 })).toEqual([]);
      await expect(store.find(ranking.name, { limit: -1 })).rejects.toBeInstanceOf(TypeError);
    });

    it('reads an unknown collection as empty', async () => {
      const store = await opened();
      expect(await store.get('nothing_here', 'x')).toBeUndefined();
      expect(await store.find('nothing_here', { limit: 5 })).toEqual([]);
      expect(await store.count('nothing_here')).toBe(0);
    });

    it('lists, drops and re-creates collections', async () => {
      const store = await opened();
      await store.ensureCollection({ ...ranking, name: 'family_a__v1' });
      await store.ensureCollection({ ...ranking, name: 'family_a__v2' });
      await store.ensureCollection({ ...ranking, name: 'family_b__v1' });
      await store.ensureCollection({ ...ranking, name: 'family_a__v1' }); // idempotent
      expect(await store.listCollections('family_a__v')).toEqual(['family_a__v1', 'family_a__v2']);
      await store.commit([{ op: 'put', collection: 'family_a__v1', id: 'x', doc: { score: 1 }, position: 1 }]);
      await store.dropCollection('family_a__v1');
      await store.dropCollection('family_a__v1');
      expect(await store.listCollections('family_a__v')).toEqual(['family_a__v2']);
      expect(await store.get('family_a__v1', 'x')).toBeUndefined();
    });

    it('switches readers to a version only when its checkpoint has reached the current one', async () => {
      const store = await opened();
      await store.setActiveVersion('contract_switch', 1);
      await store.commit([], { name: 'contract_switch@v1', position: 10 });
      await store.commit([], { name: 'contract_switch@v2', position: 9 });
      const checkpoints = { candidate: 'contract_switch@v2', current: 'contract_switch@v1' };
      expect(await store.switchVersionIfCaughtUp('contract_switch', 2, checkpoints)).toBe(false);
      expect(await store.activeVersion('contract_switch')).toBe(1);
      await store.commit([], { name: 'contract_switch@v2', position: 10 });
      expect(await store.switchVersionIfCaughtUp('contract_switch', 2, checkpoints)).toBe(true);
      expect(await store.activeVersion('contract_switch')).toBe(2);
      // A family nobody built yet (no current checkpoint) switches at once.
      expect(
        await store.switchVersionIfCaughtUp('contract_fresh', 2, {
          candidate: 'contract_fresh@v2',
          current: 'contract_fresh@v1',
        }),
      ).toBe(true);
      expect(await store.activeVersion('contract_fresh')).toBe(2);
    });

    it('records which version of a read model readers use', async () => {
      const store = await opened();
      expect(await store.activeVersion('family')).toBeUndefined();
      await store.setActiveVersion('family', 1);
      await store.setActiveVersion('family', 2);
      expect(await store.activeVersion('family')).toBe(2);
      await store.ping();
    });
  });
};
