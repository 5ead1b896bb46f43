import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { accountEventTypes, rejectionCodes } from '../ledger/src/index.js';

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('reference docs stay true', () => {
  it('docs/reference/errors.md lists every rejection code, in precedence order', () => {
    const table = read('docs/reference/errors.md');
    const documented = [...table.matchAll(/^\|\s*(\d+)\s*\|\s*`([A-Z_]+)`\s*\|/gm)].map((m) => m[2]);
    expect(documented).toEqual([...rejectionCodes]);
  });

  it('docs/reference/events.md has a section for every event type', () => {
    const page = read('docs/reference/events.md');
    const sections = [...page.matchAll(/^## ([A-Za-z]+)$/gm)].map((m) => m[1]);
    for (const type of accountEventTypes) expect(sections).toContain(type);
  });
});

describe('the API reference stays true', () => {
  it('docs/reference/api.md documents every error code the gateway can answer', async () => {
    const { gatewayErrors, fastifyClientErrorCodes } = await import('../gateway/src/errors.js');
    const page = read('docs/reference/api.md');
    const documented = new Set([...page.matchAll(/^\|\s*\d{3}\s*\|\s*`([A-Z_]+)`\s*\|/gm)].map((m) => m[1]));
    for (const code of [...Object.keys(gatewayErrors), ...fastifyClientErrorCodes, 'INTERNAL'])
      expect(documented).toContain(code);
  });
});
