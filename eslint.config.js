// Lint for what the type checker does not catch. The rule that matters most at the edge: an
// unawaited promise is how a gateway loses data silently (STYLE §12).
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'test-results/**', '**/*.mjs', '**/*.js', '!gateway/ui/**/*.js', '!flows/nodes/**/*.js'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser, parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
    },
  },
  // The dashboards' browser modules (plain JS, no build step): undefined names and unused variables.
  {
    files: ['gateway/ui/**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'console',
          'fetch',
          'EventSource',
          'URL',
          'URLSearchParams',
          'getComputedStyle',
          'matchMedia',
          'localStorage',
          'ResizeObserver',
          'Node',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
        ].map((g) => [g, 'readonly']),
      ),
    },
    rules: { 'no-undef': 'error', 'no-unused-vars': ['error', { args: 'none' }] },
  },
  // The Node-RED nodes in flows/nodes (CommonJS, loaded by Node-RED's require): undefined names and unused variables.
  {
    files: ['flows/nodes/**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'commonjs',
      globals: Object.fromEntries(
        [
          'require',
          'module',
          'exports',
          'process',
          'Buffer',
          'console',
          'fetch',
          'AbortSignal',
          'URL',
          'URLSearchParams',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
        ].map((g) => [g, 'readonly']),
      ),
    },
    rules: { 'no-undef': 'error', 'no-unused-vars': ['error', { args: 'none', caughtErrors: 'none' }] },
  },
)
