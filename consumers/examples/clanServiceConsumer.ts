/**
 * The clan service: consumes clan_credit_queue into its own SQLite store (clan_boost_events,
 * clan_credit_events, clan_reputation (reputation) and clan_contributors).
 *
 *   AMQP_URL=amqp://guest:guest@127.0.0.1:5672 DB=./data/clan-service.db \
 *     node --import tsx consumers/examples/clanServiceConsumer.ts
 */
import { runServiceConsumer } from './serviceConsumer.js';

await runServiceConsumer('clan');
