import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { ServiceStore } from './serviceStore.js';

afterEach(() => removeTempDirs());

describe("a clan service's store made before totals were exact", () => {
  it('moves its contributor totals (SQLite integers) to sort keys once, keeping every contributor', () => {
    const path = join(tempDir(), 'clan-service.db');
    const old = new Database(path);
    old.exec(`CREATE TABLE clan_contributor_totals (
        clan_id TEXT NOT NULL, user_id TEXT NOT NULL, total INTEGER NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (clan_id, user_id)) WITHOUT ROWID`);
    const insert = old.prepare('INSERT INTO clan_contributor_totals VALUES (?, ?, ?, ?)');
    for (const [userId, total] of [
      ['ana', 9],
      ['ben', 10],
    ] as const)
      insert.run('c', userId, total, JSON.stringify({ clanId: 'c', userId, total, since: 1 }));
    old.close();

    const store = new ServiceStore('clan', path);
    try {
      expect(store.documents('clan_contributors')).toEqual([
        { clanId: 'c', userId: 'ana', total: 9n, since: 1 },
        { clanId: 'c', userId: 'ben', total: 10n, since: 1 },
      ]);
      // Ranked by value (10 before 9), as the sort keys order them.
      const ranked = store.db
        .prepare<[], { userId: string }>('SELECT user_id AS userId FROM clan_contributor_ranks ORDER BY total DESC')
        .all();
      expect(ranked.map((r) => r.userId)).toEqual(['ben', 'ana']);
      const left = store.db.prepare("SELECT name FROM sqlite_master WHERE name = 'clan_contributor_totals'").get();
      expect(left).toBeUndefined();
    } finally {
      store.close();
    }
  });
});
