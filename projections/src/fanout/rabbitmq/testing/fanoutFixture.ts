import { join } from 'node:path';
import type { ManualClock, SqliteEventStore } from '../../../../../ledger/src/index.js';
import type { Closer } from '../../../../../ledger/src/testing/index.js';
import { Projector } from '../../../runtime/projector.js';
import { GigPaymentSettlement } from '../../../settlement/gigPaymentSettlement.js';
import { openLedgerWithReadModels, type LedgerWithReadModels } from '../../../testing/ledgerWithReadModels.js';
import { FileRelayCheckpoint, type RelayCheckpoint } from '../../relayCheckpoint.js';
import { RabbitMqRelay } from '../rabbitMqRelay.js';
import { createVhost } from './broker.js';

/**
 * What the fan-out specs start from: a log, read models and a handler in a temporary directory, a vhost
 * of the test's own on the shared broker, and the relay's checkpoint file; all closed by `closers`.
 */
export const openLedgerWithVhost = async (closers: Closer[], clock: ManualClock) => {
  const ledger = openLedgerWithReadModels({ clock });
  const vhost = await createVhost();
  closers.push(
    () => vhost.remove(),
    () => ledger.store.close(),
    () => ledger.models.close(),
  );
  const checkpoint = new FileRelayCheckpoint(join(ledger.dir, 'relay-checkpoint.json'));
  return { ...ledger, vhost, checkpoint };
};

/** The gig-payment settlement reactor on a projector of its own, as the workers run it; stopped by `closers`. */
export const startSettlement = (closers: Closer[], ledger: LedgerWithReadModels): Projector => {
  const { store, models, handler, clock } = ledger;
  const settlement = new Projector(store, new GigPaymentSettlement({ store: models, handler, clock }));
  settlement.start();
  closers.push(() => settlement.stop());
  return settlement;
};

/** The relay to `url` on a projector of its own (watchdog every 200 ms), as the workers run it; stopped by `closers`. */
export const startRelaying = async (closers: Closer[], store: SqliteEventStore, url: string, checkpoint: RelayCheckpoint) => {
  const relay = new RabbitMqRelay({ url, checkpoint, reconnectDelayMsMax: 500 });
  await relay.start();
  const projector = new Projector(store, relay, { watchdogIntervalMs: 200 });
  projector.start();
  const stop = async () => {
    await projector.stop();
    await relay.close();
  };
  closers.push(stop);
  return { relay, projector, stop };
};
