// The whole platform in one process: what `npm start` and the end-to-end tests run.
import 'reflect-metadata';
import { type RunningGateway, startGateway } from './gateway/gateway.ts';
import type { LiveLimits } from './gateway/live.ts';
import { gatewayRoutes } from './gateway/routes.ts';
import { type Bus, createBus } from './lib/bus/index.ts';
import type { Config } from './lib/config.ts';
import { SUBGRAPHS } from './lib/config.ts';
import { startEmbeddedPostgres } from './lib/db/embedded.ts';
import { migrate } from './lib/db/migrate.ts';
import { setServicePasswords } from './lib/db/roles.ts';
import { type RunningSubgraph, startSubgraph } from './lib/graphql/subgraph.ts';
import { createLogger } from './lib/telemetry/logger.ts';
import { SUBGRAPH_DEFINITIONS } from './subgraphs/registry.ts';
import { type RunningWorkers, startWorkers } from './workers/launcher.ts';
import { WORKER_NAMES } from './workers/registry.ts';

export interface RunningStack {
  config: Readonly<Config>;
  gateway: RunningGateway;
  subgraphs: RunningSubgraph[];
  /** The one bus of this process: RabbitMQ when AMQP_URL is set, else in-process. */
  bus: Bus;
  workers: RunningWorkers;
  stop(): Promise<void>;
}

export async function startStack(
  base: Readonly<Config>,
  options: { ephemeralPorts?: boolean; clock?: () => Date; live?: Partial<LiveLimits> } = {},
): Promise<RunningStack> {
  const log = createLogger('stack', base.logLevel);
  const embedded = base.databaseUrl
    ? undefined
    : await startEmbeddedPostgres(base.dataDir, { port: base.embeddedPgPort });
  if (embedded) log.info({ port: embedded.port }, 'embedded PostgreSQL started');

  const subgraphs: RunningSubgraph[] = [];
  let bus: Bus | undefined;
  let workers: RunningWorkers | undefined;
  const stopAll = async () => {
    await workers?.stop().catch((err) => log.error({ err }, 'workers stop failed'));
    for (const s of subgraphs) await s.stop().catch((err) => log.error({ err }, 'subgraph stop failed'));
    await bus?.close().catch((err) => log.error({ err }, 'bus close failed'));
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
    // one bus for the whole process: the services that publish (tracking) and the workers that consume
    const sharedBus = await createBus({
      amqpUrl: config.amqpUrl,
      prefix: config.amqpPrefix,
      logger: createLogger('bus', config.logLevel),
    });
    bus = sharedBus;
    log.info({ bus: bus.kind }, 'bus ready');
    for (const name of SUBGRAPHS) {
      subgraphs.push(
        await startSubgraph(SUBGRAPH_DEFINITIONS[name], config, {
          port: options.ephemeralPorts ? 0 : undefined,
          bus: sharedBus,
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
      // live subscriptions hear the process's events, also on the in-process bus
      bus: sharedBus,
      live: options.live,
    });
    // the workers run beside the services, on the process's one bus
    workers = await startWorkers(WORKER_NAMES, config, sharedBus, options.clock).catch(async (error) => {
      await gateway.stop().catch(() => {});
      throw error;
    });
    log.info({ workers: workers.names }, 'workers started');
    return {
      config,
      gateway,
      subgraphs,
      bus: sharedBus,
      workers,
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
