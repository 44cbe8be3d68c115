// Extra gateways over the test stack's subgraphs, each with its own settings (limits, Redis, proxies).
import { afterAll, inject } from 'vitest';
import { type RunningGateway, startGateway } from '../../gateway/gateway.ts';
import { gatewayRoutes } from '../../gateway/routes.ts';
import { loadConfig } from '../../lib/config.ts';

const started: RunningGateway[] = [];
// imported while a test file is collected: the hook belongs to that file
afterAll(async () => {
  for (const gateway of started.splice(0)) await gateway.stop();
});

/** A gateway with these settings over the running subgraphs, stopped after the file's tests. */
export async function gatewayWith(env: Record<string, string>): Promise<RunningGateway> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'fatal',
    DATABASE_URL: inject('databaseUrl'),
    DATA_DIR: inject('dataDir'),
    ...env,
  });
  const gateway = await startGateway(
    { ...config, subgraphUrls: inject('subgraphUrls') as any },
    { port: 0, host: '127.0.0.1', routes: gatewayRoutes },
  );
  started.push(gateway);
  return gateway;
}
