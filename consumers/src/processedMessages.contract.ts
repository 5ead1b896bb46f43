import { afterEach, describe, expect, it } from 'vitest';
import { HandlerFailedError, type ProcessedMessages } from './processedMessages.js';

export interface ProcessedMessagesFixture<Tx> {
  readonly store: ProcessedMessages<Tx>;
  /** Opens the same durable store again, as a restarted service would (after `store.close()`). */
  reopen(): Promise<ProcessedMessages<Tx>>;
  /**
   * For adapters that record the id in the handler's transaction: a write through `tx`, and a read, from
   * outside that transaction, of whether it is committed.
   */
  readonly effects?: {
    write(tx: Tx, key: string): Promise<void>;
    committed(key: string): Promise<boolean>;
  };
  cleanup(): Promise<void>;
}

/**
 * The dedupe port's contract, run against every adapter (SQLite always, MongoDB when MONGODB_URL is set).
 * The consumer relies on nothing else.
 */
export const runProcessedMessagesContract = <Tx>(name: string, open: () => Promise<ProcessedMessagesFixture<Tx>>): void => {
  describe(`processed-messages contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });
    const opened = async (): Promise<ProcessedMessagesFixture<Tx>> => {
      const fixture = await open();
      cleanups.push(() => fixture.cleanup());
      return fixture;
    };

    it('runs the handler for a new id and records it; the same id again is a duplicate and the handler does not run', async () => {
      const { store } = await opened();
      const calls: string[] = [];
      expect(await store.has('m-1')).toBe(false);
      expect(await store.processOnce('m-1', async () => void calls.push('first'))).toBe('processed');
      expect(await store.has('m-1')).toBe(true);
      expect(await store.processOnce('m-1', async () => void calls.push('second'))).toBe('duplicate');
      expect(calls).toEqual(['first']);
      expect(await store.has('m-2')).toBe(false);
    });

    it('records nothing when the handler throws, reports the handler as the cause, and runs it again next time', async () => {
      const { store } = await opened();
      const boom = new Error('boom');
      const failure: unknown = await store
        .processOnce('m-fail', async () => {
          throw boom;
        })
        .catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(HandlerFailedError);
      expect((failure as HandlerFailedError).cause).toBe(boom);
      expect(await store.has('m-fail')).toBe(false);
      let ran = 0;
      expect(await store.processOnce('m-fail', async () => void ran++)).toBe('processed');
      expect(ran).toBe(1);
    });

    it('keeps ids exactly: case, unicode and the longest id are all distinct ids', async () => {
      const { store } = await opened();
      const ids = ['evt-a', 'EVT-A', 'évt-ü-🚀', 'x'.repeat(256), 'x'.repeat(255)];
      for (const id of ids) expect(await store.processOnce(id, async () => undefined)).toBe('processed');
      for (const id of ids) expect(await store.has(id)).toBe(true);
      expect(await store.has('evt-A')).toBe(false);
      expect(await store.has('x'.repeat(254))).toBe(false);
    });

    it('remembers ids across a restart', async () => {
      const fixture = await opened();
      await fixture.store.processOnce('m-durable', async () => undefined);
      await fixture.store.close();
      const again = await fixture.reopen();
      cleanups.push(() => again.close());
      expect(await again.has('m-durable')).toBe(true);
      let ran = false;
      expect(await again.processOnce('m-durable', async () => void (ran = true))).toBe('duplicate');
      expect(ran).toBe(false);
    });

    it('handles many ids in flight at once, each recorded', async () => {
      const { store } = await opened();
      const ids = Array.from({ length: 40 }, (_, i) => `m-many-${i}`);
      const outcomes = await Promise.all(ids.map((id) => store.processOnce(id, async () => undefined)));
      expect(outcomes.every((o) => o === 'processed')).toBe(true);
      for (const id of ids) expect(await store.has(id)).toBe(true);
    });
  });

  describe(`processed-messages contract, in the handler's transaction: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });
    const openedWithEffects = async () => {
      const fixture = await open();
      cleanups.push(() => fixture.cleanup());
      if (fixture.effects === undefined) return undefined;
      return { store: fixture.store, effects: fixture.effects };
    };

    it('commits the handler writes together with the id', async (context) => {
      const opened = await openedWithEffects();
      if (opened === undefined) return context.skip('this adapter records the id after the handler');
      const { store, effects } = opened;
      expect(await store.processOnce('m-tx', (tx) => effects.write(tx, 'k-tx'))).toBe('processed');
      expect(await effects.committed('k-tx')).toBe(true);
      expect(await store.has('m-tx')).toBe(true);
    });

    it('rolls the handler writes back when it throws after writing, and records no id', async (context) => {
      const opened = await openedWithEffects();
      if (opened === undefined) return context.skip('this adapter records the id after the handler');
      const { store, effects } = opened;
      await expect(
        store.processOnce('m-rollback', async (tx) => {
          await effects.write(tx, 'k-rollback');
          throw new Error('after the write');
        }),
      ).rejects.toBeInstanceOf(HandlerFailedError);
      expect(await effects.committed('k-rollback')).toBe(false);
      expect(await store.has('m-rollback')).toBe(false);
    });

    it('runs the handler once when the same id is processed twice at the same time', async (context) => {
      const opened = await openedWithEffects();
      if (opened === undefined) return context.skip('this adapter records the id after the handler');
      const { store, effects } = opened;
      let runs = 0;
      const handle = async (tx: Tx): Promise<void> => {
        runs++;
        await effects.write(tx, `k-race-${runs}`);
      };
      const outcomes = await Promise.all([store.processOnce('m-race', handle), store.processOnce('m-race', handle)]);
      expect(outcomes.sort()).toEqual(['duplicate', 'processed']);
      expect(await effects.committed('k-race-1')).toBe(true);
      expect(await effects.committed('k-race-2')).toBe(false);
    });
  });
};
