// Lint keeps the layers honest (DESIGN.md §2): imports point bin → actors → machines → protocol.
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
      'no-restricted-syntax': [
        'error',
        { selector: 'TSEnumDeclaration', message: 'Use `as const` objects and unions, not enum (STYLE.md 6).' },
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
            { group: impure, message: 'machines/ is pure: effects are injected by actors/ (STYLE.md 1).' },
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
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
