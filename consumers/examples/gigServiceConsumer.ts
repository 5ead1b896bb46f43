/**
 * The gig service: consumes gig_credit_queue into its own SQLite store (gig_boost_events,
 * gig_credit_events, gig_ranking (rankScore)).
 *
 *   AMQP_URL=amqp://guest:guest@127.0.0.1:5672 DB=./data/gig-service.db \
 *     node --import tsx consumers/examples/gigServiceConsumer.ts
 */
import { runServiceConsumer } from './serviceConsumer.js';

await runServiceConsumer('gig');
