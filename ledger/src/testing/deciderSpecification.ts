import { expect } from 'vitest';
import type { AccountCommand } from '../accounts/commands.js';
import { decide } from '../accounts/decide.js';
import type { AccountEvent } from '../accounts/events.js';
import type { RejectionCode } from '../accounts/rejections.js';
import { fold, initialState, type AccountState } from '../accounts/state.js';

/**
 * given(events).when(command).then(events) | thenRejects(code), in the style of emmett's
 * DeciderSpecification. `then` also folds the new events, so every accepted decision is checked to
 * evolve cleanly (balanceAfter agrees with the fold, balance never below zero).
 */
export const givenAccount = (userId: string, ...history: AccountEvent[]) => ({
  when: (command: AccountCommand) => {
    const state: AccountState = fold(initialState(userId), history);
    const decision = decide(command, state);
    return {
      then: (...expected: AccountEvent[]): AccountState => {
        if (!decision.ok)
          throw new Error(`expected events, got rejection ${decision.rejection.code}: ${decision.rejection.message}`);
        expect(decision.events).toEqual(expected);
        return fold(state, decision.events);
      },
      thenRejects: (code: RejectionCode, details?: Record<string, string | number>): void => {
        if (decision.ok) throw new Error(`expected rejection ${code}, got events ${JSON.stringify(decision.events)}`);
        expect(decision.rejection.code).toBe(code);
        expect(decision.rejection.message.length).toBeGreaterThan(0);
        if (details !== undefined) expect(decision.rejection.details).toMatchObject(details);
      },
    };
  },
});
