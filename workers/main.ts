// `npm run start:worker -- <name>`: one worker in its own process (production topology, scaled by count).
import 'reflect-metadata';
import { loadConfig } from '../lib/config.ts';
import { runMain, StartupError } from '../lib/startup.ts';
import { WORKER_NAMES } from './registry.ts';

await runMain(async () => {
  const name = process.argv[2];
  if (!name || !WORKER_NAMES.includes(name)) {
    const what = name ? `unknown worker "${name}"` : 'no worker named';
    throw new StartupError(`${what}: usage: npm run start:worker -- <${WORKER_NAMES.join('|')}>`);
  }
  const config = loadConfig();
  if (!config.databaseUrl) {
    throw new StartupError(
      'DATABASE_URL is required to run a worker alone (npm start runs every worker on the embedded database)',
    );
  }
  if (!config.amqpUrl) {
    throw new StartupError(
      'AMQP_URL is required to run a worker alone: an in-process bus would reach no other process (npm start runs every worker in-process)',
    );
  }
  const { createBus } = await import('../lib/bus/index.ts');
  const { createLogger } = await import('../lib/telemetry/logger.ts');
  const { startWorkers } = await import('./launcher.ts');
  const bus = await createBus({
    amqpUrl: config.amqpUrl,
    prefix: config.amqpPrefix,
    logger: createLogger('bus', config.logLevel),
  });
  const workers = await startWorkers([name], config, bus).catch(async (error) => {
    await bus.close();
    throw error;
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, async () => {
      await workers.stop();
      await bus.close();
      process.exit(0);
    });
  }
});
