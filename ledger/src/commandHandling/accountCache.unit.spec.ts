import { describe, expect, it } from 'vitest';
import { initialState } from '../accounts/state.js';
import { genesisHash } from '../shared/hashChain.js';
import { AccountCache, type LoadedAccount } from './accountCache.js';

const account = (userId: string, revision: number): LoadedAccount => ({
  state: initialState(userId),
  revision,
  lastHash: genesisHash,
});

describe('AccountCache', () => {
  it('returns what it remembered, the latest entry per stream', () => {
    const cache = new AccountCache(10);
    cache.remember('account-a', account('a', 0));
    cache.remember('account-a', account('a', 3));
    expect(cache.get('account-a')?.revision).toBe(3);
    expect(cache.get('account-b')).toBeUndefined();
  });

  it('evicts the least recently used account beyond its bound, a read counting as a use', () => {
    const cache = new AccountCache(2);
    cache.remember('account-a', account('a', 0));
    cache.remember('account-b', account('b', 0));
    expect(cache.get('account-a')).toBeDefined(); // b is now the least recently used
    cache.remember('account-c', account('c', 0));
    expect(cache.get('account-b')).toBeUndefined();
    expect(cache.get('account-a')).toBeDefined();
    expect(cache.get('account-c')).toBeDefined();
  });

  it('forgets an account on request', () => {
    const cache = new AccountCache(2);
    cache.remember('account-a', account('a', 0));
    cache.forget('account-a');
    expect(cache.get('account-a')).toBeUndefined();
  });
});
