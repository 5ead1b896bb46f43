import { removeTempDirs } from './tempDir.js';

export type Closer = () => Promise<void> | void;

/**
 * What a spec opens, closed after each test, the last opened first, and then the temporary directories
 * removed. Call it once at the top of a spec file with vitest's `afterEach` (passed in: the bench imports
 * these helpers outside the test runner) and push a closer for each thing a test opens.
 */
export const closersAfterEach = (afterEach: (hook: () => Promise<void>) => void): Closer[] => {
  const closers: Closer[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    removeTempDirs();
  });
  return closers;
};

/**
 * Polls a condition with a bounded wait (for an asynchronous effect; never to let time pass). Fails
 * with `timed out waiting for <what>` (or `condition not met in time`) once `timeoutMs` has passed.
 */
export const until = async (
  condition: () => boolean | Promise<boolean>,
  options: { what?: string; timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> => {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(options.what === undefined ? 'condition not met in time' : `timed out waiting for ${options.what}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 5));
  }
};
