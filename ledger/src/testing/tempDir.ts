import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Temporary directories for tests, removed by `removeTempDirs` (call it in afterEach/afterAll). */
const created: string[] = [];

export const tempDir = (prefix = 'ledger-'): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
};

export const tempDbFile = (name = 'events.db'): string => join(tempDir(), name);

export const removeTempDirs = (): void => {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
};
