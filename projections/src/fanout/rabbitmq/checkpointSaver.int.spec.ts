import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../../../ledger/src/testing/index.js';
import { FileRelayCheckpoint } from '../relayCheckpoint.js';
import { CheckpointSaver } from './checkpointSaver.js';

afterEach(() => removeTempDirs());

/** A real (fsynced file) checkpoint that records which positions were saved. */
const recording = () => {
  const file = new FileRelayCheckpoint(join(tempDir(), 'relay-checkpoint.json'));
  const saved: number[] = [];
  return {
    file,
    saved,
    checkpoint: { load: () => file.load(), save: async (p: number) => (await file.save(p), void saved.push(p)) },
  };
};

describe('CheckpointSaver', () => {
  it('saves the newest position at most once per interval, and a flush saves at once', async () => {
    const { file, saved, checkpoint } = recording();
    const saver = new CheckpointSaver(checkpoint, 60_000, () => undefined);
    for (let p = 0; p < 100; p++) saver.save(p); // the first is saved at once; the rest wait for the interval
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(saved).toEqual([0]);
    const started = Date.now();
    await saver.flush(); // does not wait a minute
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(saved).toEqual([0, 99]); // only the newest of those waiting
    expect(await file.load()).toBe(99);
  });

  it('a failed save is thrown by the next save or flush, once', async () => {
    const errors: unknown[] = [];
    const saver = new CheckpointSaver(
      { load: () => Promise.resolve(undefined), save: () => Promise.reject(new Error('disk full')) },
      0,
      (error) => errors.push(error),
    );
    saver.save(1);
    await expect(saver.flush()).rejects.toThrow('disk full');
    await expect(saver.flush()).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});
