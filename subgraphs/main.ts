// `npm run start:subgraph -- <iam|crm|outreach|tracking>`: one subgraph alone (production topology).
import 'reflect-metadata';
import { loadConfig, SUBGRAPHS, type SubgraphName } from '../lib/config.ts';
import { startSubgraph } from '../lib/graphql/subgraph.ts';
import { SUBGRAPH_DEFINITIONS } from './registry.ts';

const name = process.argv[2] as SubgraphName;
if (!SUBGRAPHS.includes(name)) {
  console.error(`usage: npm run start:subgraph -- <${SUBGRAPHS.join('|')}>`);
  process.exit(2);
}
const config = loadConfig();
if (!config.databaseUrl) {
  console.error(
    'DATABASE_URL is required to run a subgraph alone (npm start runs everything on the embedded database)',
  );
  process.exit(2);
}
const subgraph = await startSubgraph(SUBGRAPH_DEFINITIONS[name], config, { host: '0.0.0.0' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    await subgraph.stop();
    process.exit(0);
  });
}
