// ESLint (typescript-eslint) for the engine, the apps and the tests; Prettier owns the formatting.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'bench/results/',
      'bench/peers/node_modules/',
      'test/artifacts/',
      'examples/*/node_modules/',
      'examples/*/dist/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      // Unused names are errors, except the conventional `_` prefix for deliberately ignored ones.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // Scripts and configs run in Node and may use its globals.
    files: ['**/*.mjs', '**/*.cjs', 'scripts/**', '*.config.*', '.puppeteerrc.cjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The browser example is plain JavaScript run in a page.
    files: ['examples/browser/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        ['console', 'document', 'fetch', 'location', 'navigator', 'performance', 'URLSearchParams'].map((name) => [name, 'readonly']),
      ),
    },
  },
);
