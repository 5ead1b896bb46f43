import { accountEventOf, type AccountCommandHandler, type RecordedEvent, type Clock } from '../../../ledger/src/index.js';
import type { ReadModelStore } from '../readModels/readModelStore.js';
import type { ProjectorLogger, Subscriber } from '../runtime/subscriber.js';

/**
 * The settlement reactor: every GigPaymentSent becomes a GigPaymentReceived on the payee's account,
 * exactly once. The command's idempotency key is derived from the transfer id, so a batch repeated
 * after a crash (effects done, checkpoint not yet saved) or a second reactor on the same log appends
 * nothing new: the ledger answers with the original event.
 */
export class GigPaymentSettlement implements Subscriber {
  readonly name = 'gig_payment_settlement';
  readonly #store: ReadModelStore;
  readonly #handler: AccountCommandHandler;
  readonly #clock: Clock;
  readonly #log: ProjectorLogger | undefined;

  constructor(options: { store: ReadModelStore; handler: AccountCommandHandler; clock: Clock; logger?: ProjectorLogger }) {
    this.#store = options.store;
    this.#handler = options.handler;
    this.#clock = options.clock;
    this.#log = options.logger;
  }

  loadCheckpoint(): Promise<number> {
    return this.#store.checkpoint(this.name);
  }

  async handle(batch: readonly RecordedEvent[]): Promise<void> {
    for (const recorded of batch) {
      if (recorded.type !== 'GigPaymentSent') continue;
      const decoded = accountEventOf(recorded);
      if (decoded?.event.type !== 'GigPaymentSent') continue;
      const { userId: payerId, event: sent } = decoded;
      const { transferId, gigId, payeeId, amount } = sent.data;
      const result = await this.#handler.execute(
        payeeId,
        { type: 'ReceiveGigPayment', transferId, gigId, payerId, amount, now: this.#clock.now() },
        {
          actor: 'service:gig-payment-settlement',
          correlationId: typeof recorded.metadata.correlationId === 'string' ? recorded.metadata.correlationId : recorded.id,
          causationId: recorded.id,
          idempotency: { key: `settle-${transferId}`, fingerprint: recorded.id },
        },
      );
      if (!result.ok) {
        // Only the hard balance ceiling can refuse a receipt; the credits stay visibly in transit.
        this.#log?.error(
          { transferId, payeeId, rejection: result.rejection },
          'gig payment could not be settled; it stays in transit',
        );
      }
    }
    const last = batch[batch.length - 1];
    if (last !== undefined) await this.#store.commit([], { name: this.name, position: last.position });
  }
}
