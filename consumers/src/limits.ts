/**
 * Every limit of the consumer kit, in one place. A service may choose other values within the bounds;
 * the bounds keep a mistyped option from turning into an unbounded buffer or an endless retry loop.
 */
export const consumerLimits = {
  /** Deliveries the broker may push before the kit acks (basic.qos, per consumer). */
  prefetchDefault: 16,
  prefetchMax: 1_000,
  /** Handler attempts for one delivery (the first try included) before it is dead-lettered. */
  handlerAttemptsDefault: 5,
  handlerAttemptsMax: 20,
  /** Backoff between handler attempts: base × 2^(attempt − 1), capped. */
  retryBackoffMsBaseDefault: 100,
  retryBackoffMsMaxDefault: 5_000,
  retryBackoffMsMaxBound: 60_000,
  /** How long `stop()` waits for the message being handled before it closes the connection anyway. */
  stopGraceMsDefault: 10_000,
  stopGraceMsMax: 120_000,
  /** Reconnect backoff (amqplib's opt-in recovery): initial and capped delay. */
  reconnectDelayMsInitialDefault: 100,
  reconnectDelayMsMaxDefault: 5_000,
  reconnectBackoffFactor: 2,
  /** ± this fraction of each reconnect delay, so consumers cut off together do not return together. */
  reconnectJitter: 0.2,
  /** A messageId longer than this is not an id the relay wrote: the delivery is dead-lettered. */
  messageIdLengthMax: 256,
} as const;
