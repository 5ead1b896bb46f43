// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

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
          paths: ['@eventstore/db-client', 'mongodb', 'amqplib'].map((name) => ({
            name,
            message: 'Engine clients are imported only by their adapter files.',
          })),
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'Date', message: 'Domain code takes time from the injected clock (a luxon DateTime).' },
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
