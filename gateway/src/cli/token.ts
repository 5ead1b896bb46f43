import { Command, InvalidArgumentError, Option } from 'commander';
import { createSigner } from 'fast-jwt';
import { isValidId, msPerHour } from '../../../ledger/src/index.js';
import { roles, type Role } from '../auth.js';
import { ConfigError, loadConfig } from '../config.js';

/**
 * `npm run token -- --user <id> [--role admin]`: prints a token for trying the API, signed with the
 * same secret the server uses (JWT_SECRET, or the development secret in the data directory).
 */
const program = new Command()
  .name('npm run token --')
  .description('Print a signed JWT for trying the API')
  .requiredOption('-u, --user <id>', 'the user id (the token subject)', (value) => {
    if (!isValidId(value)) throw new InvalidArgumentError('must be 1 to 128 printable characters');
    return value;
  })
  .addOption(new Option('-r, --role <role...>', 'roles to grant').choices(roles).default(['user']))
  .option(
    '-e, --expires-in <hours>',
    'validity in hours',
    (value) => {
      const hours = Number(value);
      if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 365)
        throw new InvalidArgumentError('must be between 0 and 8760 hours');
      return hours;
    },
    24,
  );

program.parse();
const options = program.opts<{ user: string; role: Role[]; expiresIn: number }>();

try {
  const config = loadConfig();
  if (config.auth.algorithm !== 'HS256') {
    console.error('the server verifies RS256 tokens with a public key; sign tokens with the matching private key instead');
    process.exit(2);
  }
  const sign = createSigner({ key: config.auth.secret, algorithm: 'HS256', expiresIn: options.expiresIn * msPerHour });
  process.stdout.write(`${sign({ sub: options.user, roles: options.role })}\n`);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
