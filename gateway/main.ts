// `npm run start:gateway`: the gateway alone (production topology).
import { loadConfig } from '../lib/config.ts';
import { assertPortsFree, runMain, StartupError } from '../lib/startup.ts';

await runMain(async () => {
  const config = loadConfig();
  if (!config.databaseUrl) {
    throw new StartupError(
      'DATABASE_URL is required to run the gateway alone (npm start runs everything on the embedded database)',
    );
  }
  await assertPortsFree([{ port: config.port, variable: 'PORT' }]);
  const { startGateway } = await import('./gateway.ts');
  const { gatewayRoutes } = await import('./routes.ts');
  const gateway = await startGateway(config, { routes: gatewayRoutes });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, async () => {
      await gateway.stop();
      process.exit(0);
    });
  }
});
