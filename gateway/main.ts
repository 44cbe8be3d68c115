// `npm run start:gateway`: the gateway alone (production topology).
import { loadConfig } from '../lib/config.ts';
import { startGateway } from './gateway.ts';
import { gatewayRoutes } from './routes.ts';

const config = loadConfig();
const gateway = await startGateway(config, { routes: gatewayRoutes });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    await gateway.stop();
    process.exit(0);
  });
}
