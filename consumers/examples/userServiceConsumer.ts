/**
 * The user service: consumes user_credit_queue into its own SQLite store (user_boost_events,
 * user_credit_events, user_visibility (visibilityScore)).
 *
 *   AMQP_URL=amqp://guest:guest@127.0.0.1:5672 DB=./data/user-service.db \
 *     node --import tsx consumers/examples/userServiceConsumer.ts
 */
import { runServiceConsumer } from './serviceConsumer.js';

await runServiceConsumer('user');
