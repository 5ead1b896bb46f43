import { adoptDecodedAccountEvent } from '../../accounts/accountEvent.js';
import { accountStreamPrefix } from '../../accounts/events.js';
import type { BulkReadOptions, RecordedEvent } from '../eventStore.js';
import type { ReaderAnswer, ReaderRequest } from './sqliteLogReader.worker.js';
import { sqliteEventStoreLimits } from './sqliteSchema.js';
import { startWorker } from './startWorker.js';

/**
 * The embedded engine's bulk read (`EventStore.readAllInBulk`): reader threads read and decode the
 * log ahead of the consumer, which only folds. `(after, until]` is cut into ranges of
 * `bulkReadBatchPositions` positions, dealt to the threads in turn; each thread keeps
 * `bulkReadAheadPerThread` ranges requested, and the batches are handed out in log order. Memory is
 * bounded by the ranges in flight, whatever the consumer's speed.
 *
 * What a thread posts arrives as a structured clone, which costs this thread about half of parsing
 * the same events' JSON, and nothing of reading or validating them.
 */
export async function* readAllInBulk(
  path: string,
  options: BulkReadOptions,
  limits: { readonly threads?: number; readonly batchPositions?: number } = {},
): AsyncGenerator<RecordedEvent[], void, undefined> {
  const { after, until, signal } = options;
  const threads = limits.threads ?? sqliteEventStoreLimits.bulkReadThreads;
  const span = limits.batchPositions ?? sqliteEventStoreLimits.bulkReadBatchPositions;
  const ranges = Math.max(0, Math.ceil((until - after) / span));
  if (ranges === 0) return;
  const workers = Array.from({ length: Math.min(threads, ranges) }, () => startWorker('sqliteLogReader', { path }));
  /** Answers still awaited, by range number. */
  const waiting = new Map<number, { resolve: (events: RecordedEvent[]) => void; reject: (error: Error) => void }>();
  const answers = new Map<number, Promise<RecordedEvent[]>>();
  const failAll = (error: Error): void => {
    for (const { reject } of waiting.values()) reject(error);
    waiting.clear();
  };
  for (const worker of workers) {
    worker.on('message', (answer: ReaderAnswer) => {
      const entry = waiting.get(answer.id);
      if (entry === undefined) return;
      waiting.delete(answer.id);
      if ('error' in answer) entry.reject(new Error(answer.error));
      else entry.resolve(answer.events);
    });
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`bulk reader thread exited with code ${code}`)));
  }
  let requested = 0;
  const request = (range: number): void => {
    const from = after + range * span;
    const answer = new Promise<RecordedEvent[]>((resolve, reject) => waiting.set(range, { resolve, reject }));
    // Awaited in order later; a failure before then must not count as unhandled.
    answer.catch(() => undefined);
    answers.set(range, answer);
    const message: ReaderRequest = { id: range, after: from, until: Math.min(from + span, until) };
    workers[range % workers.length]?.postMessage(message);
  };
  try {
    for (let range = 0; range < ranges; range++) {
      const ahead = workers.length * sqliteEventStoreLimits.bulkReadAheadPerThread;
      while (requested < ranges && requested <= range + ahead) request(requested++);
      signal?.throwIfAborted();
      const events = await (answers.get(range) as Promise<RecordedEvent[]>);
      answers.delete(range);
      for (const recorded of events) if (recorded.stream.startsWith(accountStreamPrefix)) adoptDecodedAccountEvent(recorded);
      if (events.length > 0) yield events;
    }
  } finally {
    for (const worker of workers) worker.removeAllListeners('exit');
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}
