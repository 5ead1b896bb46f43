import { setImmediate } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BatchConfirms } from './batchConfirms.js';

/** Whether `promise` has settled by the next turn of the event loop, and with what. */
const state = async <T>(promise: Promise<T>): Promise<{ settled: false } | { settled: true; value: T }> => {
  let outcome: { settled: false } | { settled: true; value: T } = { settled: false };
  void promise.then((value) => (outcome = { settled: true, value }));
  await setImmediate();
  return outcome;
};

describe('BatchConfirms', () => {
  it('settles once sealed and every message expected is answered, not before', async () => {
    const confirms = new BatchConfirms();
    const first = confirms.expect();
    const second = confirms.expect();
    confirms.answer(first, undefined);
    expect(await state(confirms.settled)).toEqual({ settled: false });
    confirms.answer(second, undefined);
    expect(await state(confirms.settled)).toEqual({ settled: false }); // not sealed: more may come
    confirms.seal();
    expect(await state(confirms.settled)).toEqual({ settled: true, value: undefined });
  });

  it('sealed before the answers arrive: settles with the last answer', async () => {
    const confirms = new BatchConfirms();
    const at = [confirms.expect(), confirms.expect(), confirms.expect()];
    confirms.seal();
    confirms.answer(at[0] ?? -1, undefined);
    confirms.answer(at[1] ?? -1, undefined);
    expect(await state(confirms.settled)).toEqual({ settled: false });
    confirms.answer(at[2] ?? -1, undefined);
    expect(await state(confirms.settled)).toEqual({ settled: true, value: undefined });
  });

  it('an empty batch settles when sealed', async () => {
    const confirms = new BatchConfirms();
    confirms.seal();
    expect(await state(confirms.settled)).toEqual({ settled: true, value: undefined });
  });

  it('reports the problem of the earliest message in publish order, whatever order the answers come in, after all of them', async () => {
    const confirms = new BatchConfirms();
    const at = [confirms.expect(), confirms.expect(), confirms.expect()];
    const second = new Error('second nacked');
    const third = new Error('third nacked');
    confirms.seal();
    confirms.answer(at[2] ?? -1, third);
    confirms.answer(at[1] ?? -1, second);
    expect(await state(confirms.settled)).toEqual({ settled: false }); // the first is still in flight
    confirms.answer(at[0] ?? -1, undefined);
    expect(await state(confirms.settled)).toEqual({ settled: true, value: second });
  });

  it('a stop comes after every message published before it', async () => {
    const confirms = new BatchConfirms();
    const first = confirms.expect();
    const stopped = new Error('channel closed before the next publish');
    const nacked = new Error('first nacked');
    confirms.stop(stopped);
    confirms.seal();
    expect(await state(confirms.settled)).toEqual({ settled: false });
    confirms.answer(first, nacked);
    expect(await state(confirms.settled)).toEqual({ settled: true, value: nacked });

    const clean = new BatchConfirms();
    const only = clean.expect();
    clean.stop(stopped);
    clean.seal();
    clean.answer(only, undefined);
    expect(await state(clean.settled)).toEqual({ settled: true, value: stopped });
  });
});
