// What the tracking service's routes need: the token keys (no database read to validate a link) and the bus
// accepted unsubscribes are handed to.
import type { Bus } from '../../lib/bus/index.ts';
import type { Config } from '../../lib/config.ts';
import { type TokenSigner, trackingSigner } from '../../lib/tracking/tokens.ts';

export interface TrackingDeps {
  tokens: TokenSigner;
  bus: Bus;
}

export async function trackingDeps(runtime: {
  config: Readonly<Config>;
  bus: Bus | undefined;
}): Promise<TrackingDeps> {
  const { config, bus } = runtime;
  // without a bus an unsubscribe could be answered and then lost: refuse to start instead
  if (!bus) throw new Error('the tracking service publishes unsubscribes: start it with the process bus');
  return { tokens: await trackingSigner(config), bus };
}
