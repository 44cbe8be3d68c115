import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // One graphql module instance for every package, or schemas from two realms collide.
    alias: { graphql: require.resolve('graphql') },
  },
  test: {
    include: [
      'test/**/*.test.ts',
      'lib/**/*.test.ts',
      'subgraphs/**/*.test.ts',
      'gateway/**/*.test.ts',
      'workers/**/*.test.ts',
    ],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
  },
});
