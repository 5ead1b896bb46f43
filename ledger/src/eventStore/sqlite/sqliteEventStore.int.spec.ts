import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDbFile as tempFile } from '../../testing/tempDir.js';
import { EventStoreUnavailableError } from '../errors.js';
import { runEventStoreContract } from '../eventStore.contract.js';
import { SqliteEventStore } from './sqliteEventStore.js';

afterEach(removeTempDirs);

runEventStoreContract('embedded SQLite', () => {
  const store = new SqliteEventStore({ path: tempFile() });
  return Promise.resolve({ store, streamPrefix: 'contract-', cleanup: () => store.close() });
});

runEventStoreContract('embedded SQLite, writer thread', () => {
  const store = new SqliteEventStore({ path: tempFile(), writer: 'thread' });
  return Promise.resolve({ store, streamPrefix: 'contract-', cleanup: () => store.close() });
});

const event = () => ({ id: randomUUID(), type: 'T', data: { n: 1 }, metadata: {} });

describe('embedded SQLite event store', () => {
  it('keeps acknowledged appends and their idempotency across a restart', async () => {
    const path = tempFile();
    const first = new SqliteEventStore({ path });
    const events = [event(), event()];
    const original = await first.append('s-1', events, { expectedRevision: 'no_stream' });
    await first.close();

    const reopened = new SqliteEventStore({ path });
    expect(await reopened.readStream('s-1')).toHaveLength(2);
    const repeat = await reopened.append('s-1', events, { expectedRevision: 'no_stream' });
    expect(repeat).toEqual({ ...original, idempotent: true });
    expect(await reopened.headPosition()).toBe(original.position);
    await reopened.close();
  });

  it('keeps side records across a restart, beside the log and out of it, with either writer', async () => {
    for (const writer of ['inline', 'thread'] as const) {
      const path = tempFile();
      const first = new SqliteEventStore({ path, writer });
      const appended = first.append('s-1', [event()], { expectedRevision: 'no_stream' });
      // Written while the append's group commit is pending or in flight on the writer thread.
      await first.writeRecord('checkpoint:relay', { position: 7 });
      await appended;
      await first.writeRecord('checkpoint:relay', { position: 8 });
      await first.close();
      await expect(first.writeRecord('checkpoint:relay', { position: 9 })).rejects.toBeInstanceOf(EventStoreUnavailableError);

      const reopened = new SqliteEventStore({ path, writer });
      expect(await reopened.readRecord('checkpoint:relay')).toEqual({ position: 8 });
      expect(await reopened.readAll()).toHaveLength(1);
      await reopened.close();
    }
  });

  it('commits concurrent appends to many streams as one group, each checked on its own', async () => {
    const store = new SqliteEventStore({ path: tempFile() });
    const hot = await store.append('hot', [event()], { expectedRevision: 'no_stream' });
    const appends = Array.from({ length: 200 }, (_, i) => store.append(`s-${i}`, [event()], { expectedRevision: 'no_stream' }));
    const conflicting = store.append('hot', [event()], { expectedRevision: 5 });
    const results = await Promise.all(appends);
    await expect(conflicting).rejects.toMatchObject({ type: 'stream_revision_conflict', actualRevision: 0 });
    const positions = results.map((r) => r.position);
    expect(new Set(positions).size).toBe(200);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    // One group, one commit: a group's events share the time it was committed at.
    const recorded = await store.readAll({ after: hot.position });
    expect(recorded).toHaveLength(200);
    expect(new Set(recorded.map((e) => e.recordedAt)).size).toBe(1);
    await store.close();
  });

  it('flushes queued appends on close instead of dropping them', async () => {
    const path = tempFile();
    const store = new SqliteEventStore({ path });
    const pending = store.append('s', [event()], { expectedRevision: 'no_stream' });
    await store.close();
    await expect(pending).resolves.toMatchObject({ nextExpectedRevision: 0 });
    const reopened = new SqliteEventStore({ path });
    expect(await reopened.readStream('s')).toHaveLength(1);
    await reopened.close();
  });

  it('answers an append that arrives while it closes with a retryable error, and writes nothing', async () => {
    const path = tempFile();
    const store = new SqliteEventStore({ path });
    const queued = store.append('s', [event()], { expectedRevision: 'no_stream' });
    const closing = store.close();
    const late = store.append('late', [event()], { expectedRevision: 'no_stream' });
    await expect(late).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await closing;
    await expect(queued).resolves.toMatchObject({ nextExpectedRevision: 0 });
    const reopened = new SqliteEventStore({ path });
    expect(await reopened.readStream('late')).toHaveLength(0);
    await reopened.close();
  });

  it('a second close waits for the first to finish, and reads after close are a retryable error', async () => {
    for (const writer of ['inline', 'thread'] as const) {
      const store = new SqliteEventStore({ path: tempFile(), writer });
      const pending = store.append('s', [event()], { expectedRevision: 'no_stream' });
      const first = store.close();
      await store.close(); // returns only once the first close is done: the append is flushed and the file closed
      await expect(pending).resolves.toMatchObject({ nextExpectedRevision: 0 });
      await first;
      for (const read of [
        () => store.readStream('s'),
        () => store.readAll(),
        () => store.headPosition(),
        () => store.findEventInStream('s', 'x'),
      ]) {
        await expect(read()).rejects.toBeInstanceOf(EventStoreUnavailableError);
      }
    }
  });

  it('sees appends made by another connection to the same file (another process)', async () => {
    const path = tempFile();
    const reader = new SqliteEventStore({ path });
    const writer = new SqliteEventStore({ path });
    const controller = new AbortController();
    const received = (async () => {
      for await (const e of reader.subscribeToAll({ signal: controller.signal })) return e;
      return undefined;
    })();
    await new Promise((resolve) => setTimeout(resolve, 40));
    const appended = event();
    await writer.append('x', [appended], { expectedRevision: 'no_stream' });
    expect((await received)?.id).toBe(appended.id);
    controller.abort();
    await writer.close();
    await reader.close();
  });
});
