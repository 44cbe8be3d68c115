import { createRequire } from 'node:module';
import { configDefaults, defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// Tests under test/ run against the whole platform; everything else is pure and needs no stack (the bus
// contract talks to RabbitMQ directly). These two live under test/ but only build schemas in memory.
const PURE_UNDER_TEST = ['test/schema.test.ts', 'test/scope-declarations.test.ts'];
// Tests that take shared services away (the broker) run on their own, after the others: `npm test` runs them last.
const ALONE = ['test/broker/**/*.test.ts'];

export default defineConfig({
  resolve: {
    // One graphql module instance for every package, or schemas from two realms collide.
    alias: { graphql: require.resolve('graphql') },
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'lib/**/*.test.ts',
            'subgraphs/**/*.test.ts',
            'gateway/**/*.test.ts',
            'workers/**/*.test.ts',
            ...PURE_UNDER_TEST,
          ],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...PURE_UNDER_TEST, ...ALONE],
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        extends: true,
        // stops and starts the machine's RabbitMQ: after everything else, one file at a time
        test: {
          name: 'broker',
          include: ALONE,
          fileParallelism: false,
          globalSetup: ['test/broker/setup.ts'],
        },
      },
    ],
  },
});
