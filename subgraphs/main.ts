// `npm run start:subgraph -- <iam|crm|outreach|tracking>`: one subgraph alone (production topology).
import 'reflect-metadata';
import { loadConfig, SUBGRAPHS, type SubgraphName } from '../lib/config.ts';
import { assertPortsFree, runMain, StartupError } from '../lib/startup.ts';

// subgraphs that publish work: alone, they need the broker the workers consume from
const NEEDS_BUS: readonly SubgraphName[] = ['tracking'];

await runMain(async () => {
  const name = process.argv[2] as SubgraphName;
  if (!SUBGRAPHS.includes(name)) {
    throw new StartupError(`usage: npm run start:subgraph -- <${SUBGRAPHS.join('|')}>`);
  }
  const config = loadConfig();
  if (!config.databaseUrl) {
    throw new StartupError(
      'DATABASE_URL is required to run a subgraph alone (npm start runs everything on the embedded database)',
    );
  }
  const needsBus = NEEDS_BUS.includes(name);
  if (needsBus && !config.amqpUrl) {
    // an in-process bus would hold every accepted unsubscribe where no worker ever reads it
    throw new StartupError(
      `AMQP_URL is required to run the ${name} service alone: it hands unsubscribes to the workers through RabbitMQ (npm start runs everything in-process)`,
    );
  }
  const host = '0.0.0.0';
  await assertPortsFree([{ port: config.subgraphPorts[name], variable: `${name.toUpperCase()}_PORT`, host }]);
  const { startSubgraph } = await import('../lib/graphql/subgraph.ts');
  const { SUBGRAPH_DEFINITIONS } = await import('./registry.ts');
  const { createBus } = await import('../lib/bus/index.ts');
  const { createLogger } = await import('../lib/telemetry/logger.ts');
  const bus = needsBus
    ? await createBus({
        amqpUrl: config.amqpUrl,
        prefix: config.amqpPrefix,
        logger: createLogger('bus', config.logLevel),
      })
    : undefined;
  const subgraph = await startSubgraph(SUBGRAPH_DEFINITIONS[name], config, { host, bus }).catch(
    async (error) => {
      await bus?.close();
      throw error;
    },
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, async () => {
      await subgraph.stop();
      await bus?.close();
      process.exit(0);
    });
  }
});
