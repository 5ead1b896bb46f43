/**
 * The broker's answers for one batch's messages, counted rather than kept as one promise per message
 * (a promise per publish leg, a `Promise.all` per message and another per batch were a good part of
 * the relay's CPU per message). `settled` resolves, once the batch is `sealed` and every message
 * expected has its answer, to the problem of the earliest message (in publish order) that was not
 * taken, or to undefined when all were confirmed. Never rejects.
 */
export class BatchConfirms {
  readonly settled: Promise<Error | undefined>;
  #resolve: (problem: Error | undefined) => void = () => undefined;
  #expected = 0;
  #answered = 0;
  #sealed = false;
  #problem: Error | undefined;
  #problemAt = Number.POSITIVE_INFINITY;

  constructor() {
    this.settled = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** A message is handed to the broker; returns its place in the batch (for `answer`). */
  expect(): number {
    return this.#expected++;
  }

  /** The answer for the message at `at`: undefined when it was confirmed, else why it was not taken. */
  answer(at: number, problem: Error | undefined): void {
    this.#answered++;
    this.#keep(at, problem);
    this.#settleWhenDone();
  }

  /** A problem that stopped the batch after the messages expected so far (nothing later was published). */
  stop(problem: Error): void {
    this.#keep(this.#expected, problem);
  }

  /** No message is added after this. */
  seal(): void {
    this.#sealed = true;
    this.#settleWhenDone();
  }

  #keep(at: number, problem: Error | undefined): void {
    if (problem !== undefined && at < this.#problemAt) {
      this.#problem = problem;
      this.#problemAt = at;
    }
  }

  #settleWhenDone(): void {
    if (this.#sealed && this.#answered === this.#expected) this.#resolve(this.#problem);
  }
}
