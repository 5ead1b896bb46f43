import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * The production stack is closed by default (docs/SECURITY.md). docker-compose.yml is read as text
 * (no YAML parser is a dependency): a service is a two-space key under `services:`, its settings are
 * four-space keys, and list items and environment entries are the deeper lines under them.
 */
const compose = readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8');

const services = (): Map<string, Map<string, string[]>> => {
  const result = new Map<string, Map<string, string[]>>();
  let inServices = false;
  let service: Map<string, string[]> | undefined;
  let setting: string[] | undefined;
  for (const line of compose.split('\n')) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    if (/^\S/.test(line)) {
      inServices = line.startsWith('services:');
      service = undefined;
      continue;
    }
    if (!inServices) continue;
    const serviceKey = /^ {2}([a-z-]+):\s*$/.exec(line);
    if (serviceKey?.[1] !== undefined) {
      service = new Map();
      result.set(serviceKey[1], service);
      continue;
    }
    const settingKey = /^ {4}([a-z_]+):(.*)$/.exec(line);
    if (settingKey?.[1] !== undefined && service !== undefined) {
      setting = [];
      service.set(settingKey[1], setting);
      if ((settingKey[2] ?? '').trim() !== '') setting.push((settingKey[2] ?? '').trim());
      continue;
    }
    setting?.push(line.trim());
  }
  return result;
};

const env = (service: string, name: string): string | undefined => {
  const entry = services()
    .get(service)
    ?.get('environment')
    ?.find((line) => line.startsWith(`${name}:`));
  return entry?.slice(name.length + 1).trim();
};

describe('docker-compose.yml is closed by default', () => {
  it('publishes only the app, and the RabbitMQ management UI on the loopback', () => {
    const published = [...services()].filter(([, settings]) => settings.has('ports')).map(([name]) => name);
    expect(published.sort()).toEqual(['ledger', 'rabbitmq']);
    expect(services().get('ledger')?.get('ports')).toEqual(["- '4005:4005'"]);
    expect(services().get('rabbitmq')?.get('ports')).toEqual(["- '${RABBITMQ_MANAGEMENT_BIND:-127.0.0.1}:15672:15672'"]);
  });

  it('runs MongoDB with a root user whose name and password must come from the environment', () => {
    expect(env('mongodb', 'MONGO_INITDB_ROOT_USERNAME')).toMatch(/^\$\{MONGODB_USERNAME:\?/);
    expect(env('mongodb', 'MONGO_INITDB_ROOT_PASSWORD')).toMatch(/^\$\{MONGODB_PASSWORD:\?/);
  });

  it('takes RabbitMQ credentials from the environment, admin/admin123 only as the default', () => {
    expect(env('rabbitmq', 'RABBITMQ_DEFAULT_USER')).toBe('${RABBITMQ_USERNAME:-admin}');
    expect(env('rabbitmq', 'RABBITMQ_DEFAULT_PASS')).toBe('${RABBITMQ_PASSWORD:-admin123}');
  });

  it('hands each engine’s credentials to the app and the workers in its URL (the relay runs in the workers)', () => {
    expect(env('ledger', 'MONGODB_URL')).toContain('${MONGODB_USERNAME}:${MONGODB_PASSWORD}@mongodb:27017');
    expect(env('workers', 'MONGODB_URL')).toContain('${MONGODB_USERNAME}:${MONGODB_PASSWORD}@');
    expect(env('workers', 'AMQP_URL')).toContain('${RABBITMQ_USERNAME:-admin}:${RABBITMQ_PASSWORD:-admin123}@rabbitmq:5672');
  });

  it('keeps EventStoreDB (insecure mode) off the host and without HTTP writes', () => {
    expect(services().get('eventstore')?.has('ports')).toBe(false);
    expect(env('eventstore', 'EVENTSTORE_INSECURE')).toBe("'true'");
    expect(env('eventstore', 'EVENTSTORE_ENABLE_ATOM_PUB_OVER_HTTP')).toBe("'false'");
  });

  it('passes the audit key and schedule from the environment, and keeps digests on their own volume', () => {
    expect(env('ledger', 'AUDIT_SIGNING_KEY')).toBe('${AUDIT_SIGNING_KEY:-}');
    expect(env('ledger', 'AUDIT_VERIFY_KEY')).toBe('${AUDIT_VERIFY_KEY:-}');
    expect(env('ledger', 'AUDIT_DIGEST_EVERY')).toBe('${AUDIT_DIGEST_EVERY:-}');
    expect(env('ledger', 'AUDIT_DIGEST_DIR')).toBe('/digests');
    const volumes = services().get('ledger')?.get('volumes') ?? [];
    expect(volumes).toContain('- ledger-digests:/digests');
    // Not inside the data directory (where the embedded event store lives) nor on its volume.
    expect(volumes.filter((v) => v.endsWith(':/digests'))).toEqual(['- ledger-digests:/digests']);
    expect(env('ledger', 'LEDGER_DATA_DIR')).toBe('/data');
  });
});
