import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { accountEventTypes } from '../../../ledger/src/index.js';
import { ledgerMessageSchema, messageJsonSchemas, messageOf, messageSchemas, messageTypes } from './messages.js';
import { deadLetterQueueOf, serviceQueueArguments, serviceQueues, supportsQuorumQueues, topology } from './topology.js';

const docs = join(import.meta.dirname, '..', '..', '..', 'docs', 'reference');

describe('fan-out messages and topology', () => {
  it('docs/reference/message-schemas.json is the JSON Schema the code generates', () => {
    const documented: unknown = JSON.parse(readFileSync(join(docs, 'message-schemas.json'), 'utf8'));
    expect(documented).toEqual(JSON.parse(JSON.stringify(messageJsonSchemas())));
  });

  it('messages.md has an example of every message type, each valid against its schema, and every ledger event is mapped', () => {
    const text = readFileSync(join(docs, 'messages.md'), 'utf8');
    const examples = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1] ?? '') as { type: string });
    expect(new Set(examples.map((e) => e.type))).toEqual(new Set(messageTypes));
    for (const example of examples) {
      const parsed = ledgerMessageSchema.parse(example);
      expect(messageSchemas[parsed.type].safeParse(example).success).toBe(true);
    }
    expect(new Set(examples.map((e) => (e as unknown as { ledgerEvent: { type: string } }).ledgerEvent.type))).toEqual(
      new Set(accountEventTypes),
    );
  });

  it('a message of one type does not pass as another, and the seed fields are required', () => {
    const text = readFileSync(join(docs, 'messages.md'), 'utf8');
    const [first] = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1] ?? '') as Record<string, unknown>);
    expect(messageSchemas.profile_boost.safeParse(first).success).toBe(true);
    expect(messageSchemas.gig_boost.safeParse(first).success).toBe(false);
    for (const field of ['type', 'userId', 'targetId', 'targetType', 'amount', 'duration', 'eventId', 'timestamp']) {
      const { [field]: _dropped, ...rest } = first ?? {};
      expect(ledgerMessageSchema.safeParse(rest).success, field).toBe(false);
    }
  });

  it('messageOf builds, for every account event type, a message its schema accepts (the relay does not re-validate on the hot path)', () => {
    const text = readFileSync(join(docs, 'messages.md'), 'utf8');
    const examples = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => ledgerMessageSchema.parse(JSON.parse(m[1] ?? '')));
    const built = examples.map((example) =>
      messageOf(example.ledgerEvent, {
        eventId: example.eventId,
        userId: example.userId,
        position: example.position,
        revision: example.revision,
        timestamp: example.timestamp,
        correlationId: example.correlationId,
      }),
    );
    expect(new Set(built.map((message) => message.ledgerEvent.type))).toEqual(new Set(accountEventTypes));
    for (const [i, message] of built.entries()) {
      expect(message).toEqual(examples[i]);
      expect(messageSchemas[message.type].safeParse(message).success, message.type).toBe(true);
      // What goes on the wire is what the schema reads back.
      expect(ledgerMessageSchema.parse(JSON.parse(JSON.stringify(message)))).toEqual(message);
    }
  });

  it('quorum queues from RabbitMQ 3.8, each service queue dead-letters to its own exchange and queue', () => {
    expect(supportsQuorumQueues('3.10.8')).toBe(true);
    expect(supportsQuorumQueues('4.0.1')).toBe(true);
    expect(supportsQuorumQueues('3.7.28')).toBe(false);
    expect(supportsQuorumQueues(undefined)).toBe(false);
    expect(serviceQueueArguments('gig_credit_queue', 'classic')).toEqual({ 'x-dead-letter-exchange': 'gig_credit_queue.dlx' });
    const plan = topology('quorum');
    for (const queue of serviceQueues) {
      expect(plan.bindings.filter((b) => b.queue === queue).map((b) => b.routingKey)).toEqual(['boost.event', 'credit.event']);
      expect(plan.bindings).toContainEqual({ queue: deadLetterQueueOf(queue), exchange: `${queue}.dlx`, routingKey: '' });
    }
  });
});
