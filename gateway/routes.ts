// HTTP routes the gateway serves besides /graphql.
import type { Route } from '../lib/http/service-server.ts';
import type { GatewayRuntime } from './gateway.ts';

export function gatewayRoutes(_runtime: GatewayRuntime): Route[] {
  return [];
}
