import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type RecordedEvent, SqliteEventStore } from '../../../ledger/src/index.js';
import { appendBulkPurchases, removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { Projector } from './projector.js';
import type { BatchInFlight, Subscriber } from './subscriber.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  removeTempDirs();
});

const until = async (condition: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
};

/**
 * A subscriber that takes batches and finishes them when the test says so (as the relay does when the
 * broker confirms): it saves its checkpoint only past batches it finished, and its loadCheckpoint
 * waits for the batches in flight, as `BatchInFlight` asks.
 */
class LaterSubscriber implements Subscriber {
  readonly name = 'later';
  saved = -1;
  loads = 0;
  /** Batches handed from now on finish at once. */
  finishAll = false;
  readonly inFlight: { batch: readonly RecordedEvent[]; finish: () => void; fail: (error: Error) => void }[] = [];
  #all: Promise<unknown>[] = [];

  async loadCheckpoint(): Promise<number> {
    await Promise.allSettled(this.#all);
    this.#all = []; // a new subscription: a failure of the last one no longer holds saves back
    this.loads++;
    return this.saved;
  }

  handle(batch: readonly RecordedEvent[]): Promise<BatchInFlight> {
    let finish: () => void = () => undefined;
    let fail: (error: Error) => void = () => undefined;
    const done = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    const previous = this.#all.at(-1) ?? Promise.resolve();
    const saving = done.then(async () => {
      await previous;
      this.saved = batch[batch.length - 1]?.position ?? this.saved;
    });
    saving.catch(() => undefined);
    this.#all.push(saving);
    this.inFlight.push({ batch, finish, fail });
    if (this.finishAll) finish();
    return Promise.resolve({ done });
  }
}

const open = async (events: number) => {
  const store = new SqliteEventStore({ path: join(tempDir(), 'events.db') });
  closers.push(() => store.close());
  await appendBulkPurchases(store, 1, events);
  const subscriber = new LaterSubscriber();
  const projector = new Projector(store, subscriber);
  projector.start();
  closers.push(() => projector.stop());
  return { store, subscriber, projector };
};

describe('Projector with batches finished after handle returns (BatchInFlight)', () => {
  it('counts a batch handled only once it and every batch before it finished, in log order', async () => {
    const { store, subscriber, projector } = await open(2500); // three batches (1000, 1000, 500)
    await until(() => subscriber.inFlight.length === 3); // the runtime hands on without waiting for `done`
    const [first, second, third] = subscriber.inFlight;
    expect((await projector.status()).checkpoint).toBe(-1);
    const caughtUp = projector.waitUntilCaughtUp(10_000);
    second?.finish(); // out of order: nothing counts while the first is still in flight
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await projector.status()).toMatchObject({ checkpoint: -1, handledEvents: 0, state: 'catching-up' });
    first?.finish();
    await projector.waitFor(second?.batch.at(-1)?.position ?? Infinity, 10_000);
    expect((await projector.status()).checkpoint).toBe(second?.batch.at(-1)?.position);
    third?.finish();
    await caughtUp;
    expect(await projector.status()).toMatchObject({
      checkpoint: await store.headPosition(),
      state: 'live',
      handledEvents: 2500,
    });
  });

  it('a batch that fails after the next was handed on: nothing after it counts, and the runtime resubscribes from the durable checkpoint', async () => {
    const { subscriber, projector } = await open(2500);
    await until(() => subscriber.inFlight.length === 3);
    const [first, second, third] = subscriber.inFlight;
    first?.finish();
    second?.fail(new Error('nacked by the broker'));
    third?.finish(); // finished, but behind one that failed: not counted
    await until(() => subscriber.loads === 2); // resubscribed
    const status = await projector.status();
    expect(status).toMatchObject({ checkpoint: first?.batch.at(-1)?.position, retries: 1, lastError: 'nacked by the broker' });
    // From the checkpoint: the failed batch's events come again (one at a time, to find the one that fails).
    await until(() => subscriber.inFlight.length >= 4);
    expect(subscriber.inFlight[3]?.batch[0]?.position).toBe(second?.batch[0]?.position);
    expect(subscriber.inFlight[3]?.batch).toHaveLength(1);
    subscriber.finishAll = true;
    for (const batch of subscriber.inFlight) batch.finish();
    await projector.waitUntilCaughtUp(10_000);
  });

  it('stop() waits for the batches in flight', async () => {
    const { subscriber, projector } = await open(1500);
    await until(() => subscriber.inFlight.length === 2);
    let stopped = false;
    const stopping = projector.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stopped).toBe(false);
    for (const batch of subscriber.inFlight) batch.finish();
    await stopping;
    expect(await projector.status()).toMatchObject({ state: 'stopped', checkpoint: subscriber.saved, handledEvents: 1500 });
  });
});
