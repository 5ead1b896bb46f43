/**
 * The replay guard every folded document shares: a document remembers the log position of the last
 * event folded into it, and an event at or below that position is not folded again, so a replayed or
 * duplicated event changes nothing. Pure (no store): `BatchDocuments` applies it to the documents of
 * a batch, and a consumer of the fan-out can apply it to its own.
 */

/** A document and the position of the last event folded into it (-1: none yet). */
export interface Positioned<T> {
  readonly doc: T;
  readonly position: number;
}

/** `current` with the event at `position` folded in by `change`, or `current` itself if it already holds it. */
export const foldOnce = <T>(current: Positioned<T>, position: number, change: (doc: T) => T): Positioned<T> =>
  position <= current.position ? current : { doc: change(current.doc), position };
