import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventStoreUnavailableError } from '../errors.js';
import { runEventStoreContract } from '../eventStore.contract.js';
import { EsdbEventStore } from './esdbEventStore.js';

/**
 * The event store contract against a real EventStoreDB/KurrentDB node. No server can run on the
 * development machines, so this runs only where EVENTSTORE_URL points at one (docker-compose.dev.yml publishes it on the loopback).
 */
const url = process.env.EVENTSTORE_URL;

if (url === undefined || url === '') {
  const line = '='.repeat(92);
  process.stderr.write(
    `\n${line}\n  SKIPPED: EventStoreDB contract suite — set EVENTSTORE_URL=esdb://127.0.0.1:2113?tls=false (docker-compose.dev.yml) to run it\n${line}\n\n`,
  );
  describe.skip('event store contract: EventStoreDB (SKIPPED: EVENTSTORE_URL is not set)', () => undefined);
} else {
  // One prefix per run: the server is shared and keeps every stream of earlier runs.
  const runPrefix = `contract-${randomUUID().slice(0, 8)}-`;
  runEventStoreContract(
    'EventStoreDB',
    () => {
      const store = EsdbEventStore.fromConnectionString(url);
      return Promise.resolve({ store, streamPrefix: runPrefix, cleanup: () => store.close() });
    },
    EsdbEventStore.capabilities,
  );
}

// Runs everywhere: no server is needed to check how the adapter reports the absence of one.
describe('EventStoreDB adapter without a server', () => {
  it('reports an unreachable server as EventStoreUnavailableError on every operation', async () => {
    const store = EsdbEventStore.fromConnectionString('esdb://127.0.0.1:1?tls=false&maxDiscoverAttempts=1&defaultDeadline=2000');
    const event = { id: randomUUID(), type: 'T', data: {}, metadata: {} };
    await expect(store.headPosition()).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(store.append('s', [event], { expectedRevision: 'no_stream' })).rejects.toBeInstanceOf(
      EventStoreUnavailableError,
    );
    await expect(store.readStream('s')).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(store.readAll()).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await store.close();
  });
});
