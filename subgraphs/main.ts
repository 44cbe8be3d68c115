// `npm run start:subgraph -- <iam|crm|outreach|tracking>`: one subgraph alone (production topology).
import 'reflect-metadata';
import { loadConfig, SUBGRAPHS, type SubgraphName } from '../lib/config.ts';
import { assertPortsFree, runMain, StartupError } from '../lib/startup.ts';

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
  const host = '0.0.0.0';
  await assertPortsFree([{ port: config.subgraphPorts[name], variable: `${name.toUpperCase()}_PORT`, host }]);
  const { startSubgraph } = await import('../lib/graphql/subgraph.ts');
  const { SUBGRAPH_DEFINITIONS } = await import('./registry.ts');
  const subgraph = await startSubgraph(SUBGRAPH_DEFINITIONS[name], config, { host });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, async () => {
      await subgraph.stop();
      process.exit(0);
    });
  }
});
