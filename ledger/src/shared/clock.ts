import { DateTime } from 'luxon';

/** The only source of time: injected everywhere, so tests drive time instead of sleeping for it. */
export interface Clock {
  now(): DateTime;
}

/** Milliseconds in an hour: durations are given in hours (boosts, tokens) and computed with in milliseconds. */
export const msPerHour = 3_600_000;

export const systemClock: Clock = { now: () => DateTime.utc() };

/** A clock tests set and advance by hand. */
export class ManualClock implements Clock {
  #now: DateTime;
  constructor(start: DateTime | string = '2026-06-29T13:30:00.000Z') {
    this.#now = typeof start === 'string' ? DateTime.fromISO(start, { zone: 'utc' }) : start.toUTC();
  }
  now(): DateTime {
    return this.#now;
  }
  set(instant: DateTime | string): void {
    this.#now = typeof instant === 'string' ? DateTime.fromISO(instant, { zone: 'utc' }) : instant.toUTC();
  }
  advance(duration: { hours?: number; minutes?: number; seconds?: number; milliseconds?: number }): void {
    this.#now = this.#now.plus(duration);
  }
}
