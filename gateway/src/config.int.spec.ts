import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../ledger/src/testing/index.js';
import { ConfigError, loadConfig } from './config.js';

afterEach(removeTempDirs);

const base = (): NodeJS.ProcessEnv => ({ LEDGER_DATA_DIR: tempDir(), JWT_SECRET: 's'.repeat(32) });

describe('configuration from the environment', () => {
  it('takes an empty variable as unset, and numbers only in plain decimal', () => {
    expect(loadConfig({ ...base(), PORT: '', RATE_LIMIT_PER_USER_PER_MINUTE: '' })).toMatchObject({
      port: 4005,
      rateLimitPerUserPerMinute: 6000,
    });
    expect(loadConfig({ ...base(), PORT: '8080', RATE_LIMIT_PER_USER_PER_MINUTE: '0' })).toMatchObject({
      port: 8080,
      rateLimitPerUserPerMinute: 0,
      rateLimitFailuresPerIpPerMinute: 600,
    });
    expect(loadConfig({ ...base(), RATE_LIMIT_FAILURES_PER_IP_PER_MINUTE: '0' })).toMatchObject({
      rateLimitFailuresPerIpPerMinute: 0,
    });
    for (const port of ['0x50', '8e3', ' 80', '-1', '70000', 'http'])
      expect(() => loadConfig({ ...base(), PORT: port }), port).toThrow(ConfigError);
    expect(() => loadConfig({ ...base(), RATE_LIMIT_PER_USER_PER_MINUTE: '1.5' })).toThrow(/RATE_LIMIT_PER_USER_PER_MINUTE/);
  });

  it('refuses production without a secret, a short secret, and a public key that is not one', () => {
    expect(() => loadConfig({ LEDGER_DATA_DIR: tempDir(), NODE_ENV: 'production' })).toThrow(/needs JWT_SECRET/);
    expect(() => loadConfig({ LEDGER_DATA_DIR: tempDir(), JWT_SECRET: 'short' })).toThrow(/at least 32/);
    expect(() => loadConfig({ ...base(), JWT_PUBLIC_KEY: 'not a key' })).toThrow(/JWT_PUBLIC_KEY is not a PEM public key/);
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(loadConfig({ ...base(), JWT_PUBLIC_KEY: pem }).auth.algorithm).toBe('RS256');
    expect(loadConfig({ ...base(), JWT_PUBLIC_KEY: '' }).auth.algorithm).toBe('HS256');
  });

  it('processes starting together on a fresh data directory agree on one whole development secret', async () => {
    const dir = tempDir();
    const children = Array.from({ length: 8 }, () =>
      spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          `import('${new URL('./config.ts', import.meta.url).href}').then((m) => { const c = m.loadConfig(); process.stdout.write(c.auth.secret); })`,
        ],
        { env: { ...process.env, LEDGER_DATA_DIR: dir, JWT_SECRET: '', JWT_PUBLIC_KEY: '', NODE_ENV: 'development' } },
      ),
    );
    const secrets = await Promise.all(
      children.map(async (child) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        const [code] = (await once(child, 'exit')) as [number];
        expect(code).toBe(0);
        return out;
      }),
    );
    expect(new Set(secrets).size).toBe(1);
    expect(secrets[0]?.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({ LEDGER_DATA_DIR: dir }).auth).toEqual({ algorithm: 'HS256', secret: secrets[0] });
  }, 30_000);
});
