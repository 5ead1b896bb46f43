// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const engineClients = ['@eventstore/db-client', 'mongodb', 'amqplib'].map((name) => ({
  name,
  message: 'Engine clients are imported only by their adapter files.',
}));

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'bench/results/', 'coverage/', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A dropped promise in a ledger is a lost write or an unhandled failure.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      // Fastify plugins are async functions by contract, with or without an await inside.
      '@typescript-eslint/require-await': 'off',
      // Only adapter files may import engine clients.
      'no-restricted-imports': [
        'error',
        {
          paths: engineClients,
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'Date', message: 'Domain code takes time from the injected clock (a luxon DateTime).' },
      ],
    },
  },
  {
    // Components depend one way (gateway → projections → ledger; consumers → projections → ledger; bench on top),
    // and each is entered through its public surface (`src/index.ts`, and `src/testing/index.ts` for test helpers).
    files: ['gateway/**', 'consumers/**', 'bench/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: engineClients,
          patterns: [
            {
              regex: '(^|/)(ledger|projections|consumers)/src/(?!index\\.js$|testing/index\\.js$)',
              message: 'Import another component through its public surface (its src/index.ts), not its files.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['consumers/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: engineClients,
          patterns: [
            {
              regex: '(^|/)(ledger|projections)/src/(?!index\\.js$|testing/index\\.js$)',
              message: 'Import another component through its public surface (its src/index.ts), not its files.',
            },
            { regex: '(^|/)gateway/', message: 'Nothing depends on the gateway: it is the top of the graph.' },
          ],
        },
      ],
    },
  },
  {
    files: ['ledger/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: engineClients,
          patterns: [
            {
              regex: '(^|/)(gateway|projections|consumers)/',
              message: 'The ledger is the bottom of the graph: it imports no other component.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['projections/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: engineClients,
          patterns: [
            {
              regex: '(^|/)ledger/src/(?!index\\.js$|testing/index\\.js$)',
              message: 'Import the ledger through its public surface (ledger/src/index.ts).',
            },
            { regex: '(^|/)(gateway|consumers)/', message: 'Projections depend on the ledger only.' },
          ],
        },
      ],
    },
  },
  {
    // Adapters are where engine clients live.
    files: [
      '**/eventStore/esdb/**',
      '**/readModels/mongo/**',
      '**/bus/rabbitmq/**',
      '**/*amqp*/**',
      '**/rabbitmq/**',
      '**/mongo/**',
    ],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Only the pure domain is forbidden the wall clock; infrastructure may timestamp.
    files: ['**/*.ts', '**/*.js'],
    ignores: ['ledger/src/accounts/**'],
    rules: { 'no-restricted-globals': 'off' },
  },
  {
    files: ['**/*.spec.ts', '**/testing/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  prettier,
);
