// Lint keeps the layers honest (docs/architecture.md §2): imports point bin → actors → machines → protocol.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const impure = ['@nats-io/*', 'nats', 'msgpackr', 'pino', 'node:*'];
const upward = (...dirs) =>
  dirs.flatMap((d) => [`../${d}/*`, `../../${d}/*`, `../../../${d}/*`, `../${d}`, `../../${d}`]);

// Public faces: each folder of actors/ and machines/ is used by the others only through its index.ts, so a folder's
// files can change without their users changing. Within a folder, files import each other freely. Tests are left out
// on purpose: they test internals, so they may import any file.
const face = 'is used through its index.js, not a file of it (public faces).';
const deepSibling = { regex: '^\\.\\./[^./][^/]*/(?!index\\.js$)', message: `A sibling folder ${face}` };
const deepInto = (dir) => ({ regex: `(^|/)${dir}/[^/]+/(?!index\\.js$)`, message: `Each ${dir}/ folder ${face}` });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.novactor/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Prettier formats at 120 columns; this catches what it leaves long (comments). A line holding a string stays
      // whole, so that a message can be found by grepping for it.
      'max-len': [
        'error',
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'TSEnumDeclaration',
          message: 'Use `as const` objects and unions, not enum (docs/architecture.md §2).',
        },
      ],
    },
  },
  {
    files: ['protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@nats-io/*', 'nats', 'pino', 'node:*'], message: 'protocol/ is the wire contract: no I/O.' },
            {
              group: upward('machines', 'actors', 'virt', 'bin', 'chaos'),
              message: 'protocol/ imports nothing of the project.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['machines/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: impure, message: 'machines/ is pure: effects are injected by actors/ (docs/architecture.md §2).' },
            {
              group: upward('actors', 'virt', 'bin', 'chaos'),
              message: 'machines/ may import only xstate and protocol/.',
            },
            deepSibling,
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Time is injected into machines.' },
        { name: 'setInterval', message: 'Time is injected into machines.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Time is injected into machines.' },
        { object: 'Math', property: 'random', message: 'Randomness is injected into machines.' },
      ],
    },
  },
  {
    files: ['virt/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: upward('bin', 'chaos'), message: 'actors/ and virt/ never import bin/ or chaos/.' }] },
      ],
    },
  },
  {
    files: ['actors/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: upward('bin', 'chaos'), message: 'actors/ and virt/ never import bin/ or chaos/.' },
            deepSibling,
            deepInto('machines'),
          ],
        },
      ],
    },
  },
  {
    files: ['bin/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [deepInto('actors'), deepInto('machines')] }] },
  },
  {
    files: ['chaos/**/*.ts', 'bench/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: upward('bin'),
              message: 'chaos/ and bench/ drive the cloud as bin/ does; they never import bin/.',
            },
            deepInto('actors'),
            deepInto('machines'),
          ],
        },
      ],
    },
  },
  {
    // Actors take time and ids from the injected Clock and IdSource (actors/runtime/clock.ts, the one
    // place that reads the real ones), so tests and replays control them. A use that must stay real
    // (a timer the server's wall clock judges) says why in its eslint-disable comment.
    files: ['actors/**/*.ts'],
    ignores: ['actors/runtime/clock.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use the injected Clock (clock.setTimeout, or sleep(clock, ms)).' },
        { name: 'setInterval', message: 'Use the injected Clock (runtime/periodic.ts).' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Use the injected Clock (clock.now()).' },
        { object: 'Math', property: 'random', message: 'Inject the randomness (an option, as periodic jitter).' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: 'TSEnumDeclaration', message: 'Use `as const` objects and unions, not enum.' },
        {
          selector: "ImportSpecifier[imported.name='randomUUID'], MemberExpression[property.name='randomUUID']",
          message: 'Use the injected IdSource (ids.next()).',
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ignores: ['actors/http/dashboard/**'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    // The dashboard's script runs in the browser (a module, no build step): the browser's globals it uses.
    files: ['actors/http/dashboard/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'AbortController',
          'clearInterval',
          'clearTimeout',
          'confirm',
          'CSS',
          'document',
          'fetch',
          'FormData',
          'sessionStorage',
          'setInterval',
          'setTimeout',
          'TextDecoderStream',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
