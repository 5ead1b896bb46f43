import { afterEach, describe, expect, it, vi } from 'vitest';
import { batches } from './batches.js';

async function* items(values: number[], pauseAfter?: number, pauseMs = 30): AsyncGenerator<number> {
  for (const value of values) {
    yield value;
    if (value === pauseAfter) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

const collect = async <T>(source: AsyncIterable<T[]>): Promise<T[][]> => {
  const out: T[][] = [];
  for await (const batch of source) out.push(batch);
  return out;
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe('batches', () => {
  it('cuts full batches and hands on the remainder at the end', async () => {
    expect(await collect(batches(items([1, 2, 3, 4, 5, 6, 7]), 3, 1000))).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  });

  it('hands on a partial batch when the source goes quiet', async () => {
    expect(await collect(batches(items([1, 2, 3, 4], 2), 10, 5))).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('does not pull ahead of the consumer (back-pressure)', async () => {
    let pulled = 0;
    async function* counting(): AsyncGenerator<number> {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield i;
      }
    }
    const iterator = batches(counting(), 10, 1000)[Symbol.asyncIterator]();
    await iterator.next();
    expect(pulled).toBeLessThanOrEqual(11);
    await iterator.return?.();
  });

  it('counts the quiet period from the last item: items that keep coming within waitMs stay in one batch', async () => {
    // 30 items 10 ms apart (300 ms or more in all) with waitMs 200: a deadline counted from the batch's
    // first item would cut it; the quiet period never passes until the source ends.
    async function* steady(): AsyncGenerator<number> {
      for (let i = 0; i < 30; i++) {
        yield i;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    expect(await collect(batches(steady(), 100, 200))).toEqual([Array.from({ length: 30 }, (_, i) => i)]);
  });

  it('arms one timer per batch in a catch-up, not one per item', async () => {
    const timers = vi.spyOn(globalThis, 'setTimeout');
    const values = Array.from({ length: 3000 }, (_, i) => i);
    const out = await collect(batches(items(values), 1000, 1000));
    expect(out.map((batch) => batch.length)).toEqual([1000, 1000, 1000]);
    expect(out.flat()).toEqual(values);
    expect(timers.mock.calls.length).toBeLessThanOrEqual(3);
  });

  it('hands an error of the source to the consumer, after the batches before it', async () => {
    async function* failing(): AsyncGenerator<number> {
      yield 1;
      yield 2;
      await new Promise((resolve) => setTimeout(resolve, 20));
      yield 3;
      throw new Error('source failed');
    }
    const seen: number[][] = [];
    await expect(
      (async () => {
        for await (const batch of batches(failing(), 10, 5)) seen.push(batch);
      })(),
    ).rejects.toThrow('source failed');
    expect(seen).toEqual([[1, 2]]);
  });

  it('a consumer that stops while an item is awaited ends the source once that item comes', async () => {
    let release: () => void = () => undefined;
    let ended = false;
    async function* slow(): AsyncGenerator<number> {
      try {
        yield 1;
        await new Promise<void>((resolve) => (release = resolve));
        yield 2;
      } finally {
        ended = true;
      }
    }
    const iterator = batches(slow(), 10, 5)[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: false, value: [1] });
    await iterator.return?.();
    expect(ended).toBe(false);
    release();
    await vi.waitFor(() => expect(ended).toBe(true));
  });
});
