// `npm start`: everything on one machine, on embedded defaults unless configured otherwise.
import { loadConfig, SUBGRAPHS } from './lib/config.ts';
import { assertDataDirFree } from './lib/db/embedded.ts';
import { assertPortsFree, assertWritableDir, runMain } from './lib/startup.ts';

await runMain(async () => {
  const config = loadConfig();
  // checked before anything heavy loads, so a second start fails at once with what to do
  await assertWritableDir(config.dataDir);
  if (!config.databaseUrl) await assertDataDirFree(config.dataDir);
  await assertPortsFree([
    { port: config.port, variable: 'PORT' },
    ...SUBGRAPHS.map((name) => ({
      port: config.subgraphPorts[name],
      variable: `${name.toUpperCase()}_PORT`,
      host: '127.0.0.1',
    })),
  ]);
  const { startStack } = await import('./stack.ts');
  const stack = await startStack(config);
  console.log(
    `\nProspectFlow is running.\n  GraphQL + Sandbox: ${stack.gateway.url}\n  Health: http://localhost:${stack.gateway.port}/health\n`,
  );

  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, async () => {
      if (stopping) return;
      stopping = true;
      console.log(`\n${signal}: stopping...`);
      await stack.stop();
      process.exit(0);
    });
  }
});
