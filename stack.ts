// The whole platform in one process: what `npm start` and the end-to-end tests run.
import 'reflect-metadata';
import { type RunningGateway, startGateway } from './gateway/gateway.ts';
import { gatewayRoutes } from './gateway/routes.ts';
import type { Config } from './lib/config.ts';
import { SUBGRAPHS } from './lib/config.ts';
import { startEmbeddedPostgres } from './lib/db/embedded.ts';
import { migrate } from './lib/db/migrate.ts';
import { setServicePasswords } from './lib/db/roles.ts';
import { type RunningSubgraph, startSubgraph } from './lib/graphql/subgraph.ts';
import { createLogger } from './lib/telemetry/logger.ts';
import { SUBGRAPH_DEFINITIONS } from './subgraphs/registry.ts';

export interface RunningStack {
  config: Readonly<Config>;
  gateway: RunningGateway;
  subgraphs: RunningSubgraph[];
  stop(): Promise<void>;
}

export async function startStack(
  base: Readonly<Config>,
  options: { ephemeralPorts?: boolean } = {},
): Promise<RunningStack> {
  const log = createLogger('stack', base.logLevel);
  const embedded = base.databaseUrl
    ? undefined
    : await startEmbeddedPostgres(base.dataDir, { port: base.embeddedPgPort });
  if (embedded) log.info({ port: embedded.port }, 'embedded PostgreSQL started');

  const subgraphs: RunningSubgraph[] = [];
  const stopAll = async () => {
    for (const s of subgraphs) await s.stop().catch((err) => log.error({ err }, 'subgraph stop failed'));
    await embedded
      ?.stop()
      .catch((err: unknown) => log.warn({ err }, 'embedded PostgreSQL was already stopping'));
  };
  try {
    // the owner's URL runs migrations; each service then logs in as its own role
    const databaseUrl = base.databaseUrl ?? embedded!.url;
    const result = await migrate(databaseUrl, (msg) => log.info(msg));
    log.info({ applied: result.applied.length }, 'database migrated');
    const databasePasswords = { ...embedded?.passwords, ...base.databasePasswords };
    await setServicePasswords(databaseUrl, databasePasswords);

    let config: Readonly<Config> = { ...base, databaseUrl, databasePasswords };
    for (const name of SUBGRAPHS) {
      subgraphs.push(
        await startSubgraph(SUBGRAPH_DEFINITIONS[name], config, {
          port: options.ephemeralPorts ? 0 : undefined,
        }),
      );
    }
    config = {
      ...config,
      subgraphUrls: Object.fromEntries(subgraphs.map((s) => [s.name, s.url])) as Config['subgraphUrls'],
    };
    const gateway = await startGateway(config, {
      port: options.ephemeralPorts ? 0 : undefined,
      routes: gatewayRoutes,
    });
    return {
      config,
      gateway,
      subgraphs,
      async stop() {
        await gateway.stop().catch((err) => log.error({ err }, 'gateway stop failed'));
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
