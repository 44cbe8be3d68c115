// HTTP routes the gateway serves besides /graphql.
import type { Route } from '../lib/http/service-server.ts';
import { dashboardRoute } from './dashboard.ts';
import type { GatewayRuntime } from './gateway.ts';
import { trackingProxy } from './tracking-proxy.ts';
import { pharowWebhook } from './webhooks/pharow.ts';

export function gatewayRoutes(runtime: GatewayRuntime): Route[] {
  return [pharowWebhook(runtime), trackingProxy(runtime), dashboardRoute(runtime)];
}
