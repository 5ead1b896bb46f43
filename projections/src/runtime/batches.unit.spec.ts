import { describe, expect, it } from 'vitest';
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
});
