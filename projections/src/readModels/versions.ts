import type Database from 'better-sqlite3';

/**
 * Blue/green versions of read models on the embedded store. Each version of a read model family
 * writes its own physical tables (`{table}__v{n}`); readers only ever query a view with the seed's
 * name (`user_visibility`, …) that points at the active version. A rebuild fills version n+1 from
 * the start of the log while version n keeps serving, and switches every view in one transaction
 * once it has caught up, so readers never see a half-built view.
 */
export const physicalTable = (table: string, version: number): string => `${table}__v${version}`;

export const ensureVersionRegistry = (db: Database.Database): void => {
  db.exec(
    `CREATE TABLE IF NOT EXISTS read_model_versions (family TEXT PRIMARY KEY, active INTEGER NOT NULL, switched_at TEXT NOT NULL)`,
  );
};

/** The version readers use, or undefined for a family never built. */
export const activeVersion = (db: Database.Database, family: string): number | undefined => {
  ensureVersionRegistry(db);
  return (db.prepare('SELECT active FROM read_model_versions WHERE family = ?').get(family) as { active: number } | undefined)
    ?.active;
};

/** Versions of a family that have tables, from the schema itself. */
export const builtVersions = (db: Database.Database, table: string): number[] =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?").all(`${table}__v%`) as { name: string }[])
    .map((row) => Number(row.name.slice(table.length + 3)))
    .filter((n) => Number.isSafeInteger(n))
    .sort((a, b) => a - b);

/** Points every view of the family at `version`. Call inside the transaction that completes the build. */
export const activate = (db: Database.Database, family: string, version: number, tables: readonly string[]): void => {
  ensureVersionRegistry(db);
  for (const table of tables) {
    db.exec(`DROP VIEW IF EXISTS ${table}`);
    db.exec(`CREATE VIEW ${table} AS SELECT * FROM ${physicalTable(table, version)}`);
  }
  db.prepare(
    `INSERT INTO read_model_versions (family, active, switched_at) VALUES (?, ?, ?)
     ON CONFLICT (family) DO UPDATE SET active = excluded.active, switched_at = excluded.switched_at`,
  ).run(family, version, new Date().toISOString());
};

/** Drops the tables of every version but the active one (after a switch). */
export const dropInactive = (db: Database.Database, family: string, tables: readonly string[]): void => {
  const active = activeVersion(db, family);
  for (const table of tables) {
    for (const version of builtVersions(db, table)) {
      if (version !== active) db.exec(`DROP TABLE IF EXISTS ${physicalTable(table, version)}`);
    }
  }
};

/** Raised by a live projection whose version was replaced by a rebuild: it re-targets and resubscribes. */
export class ReadModelVersionSwitchedError extends Error {
  constructor(family: string, from: number, to: number) {
    super(`${family}: readers switched from v${from} to v${to}; following the new version`);
    this.name = 'ReadModelVersionSwitchedError';
  }
}
