// The outbox relay: claims campaign streams with unpublished events, relays them, and polls again. Any
// number of relays may run; a campaign's stream has one holder at a time.
import type { Logger } from '../../lib/telemetry/logger.ts';
import { pollingLoop } from '../polling.ts';
import { type RunningWorker, type WorkerDefinition, workerId } from '../runtime.ts';
import { claimStreams, type RelayDeps, relayStream } from './handler.ts';

export interface RelayOptions {
  /** Streams claimed per round. */
  streamsPerClaim?: number;
  batchSize?: number;
  /** How long a claimed stream stays with this relay if it dies. */
  leaseSeconds?: number;
  /** Pause when there was nothing to relay. */
  idleMs?: number;
}

export interface Relay extends RunningWorker {
  /** Polls until stopped. */
  start(): void;
  /** One round: claim, publish, mark. Returns the number of events published (at least 1 if more may wait). */
  runOnce(): Promise<number>;
}

export function createRelay(
  deps: Omit<RelayDeps, 'batchSize'>,
  log: Pick<Logger, 'error' | 'warn' | 'info'>,
  options: RelayOptions = {},
): Relay {
  const streamsPerClaim = options.streamsPerClaim ?? 20;
  const leaseSeconds = options.leaseSeconds ?? 30;
  const idleMs = options.idleMs ?? 100;
  const full: RelayDeps = { ...deps, batchSize: options.batchSize ?? 200 };
  const runOnce = async (): Promise<number> => {
    const claims = await claimStreams(full, streamsPerClaim, leaseSeconds);
    const results = await Promise.allSettled(claims.map((claim) => relayStream(full, claim)));
    let published = 0;
    for (const result of results) {
      if (result.status === 'fulfilled') published += result.value;
      else log.warn({ err: result.reason }, 'outbox relay could not publish; retrying after a backoff');
    }
    return claims.length === streamsPerClaim ? Math.max(published, 1) : published;
  };
  const loop = pollingLoop({
    name: 'outbox relay',
    round: async () => (await runOnce()) > 0,
    idleMs,
    maxBackoffExponent: 8,
    log,
  });

  return { name: 'relay', runOnce, start: loop.start, stop: loop.stop };
}

export const relayWorker: WorkerDefinition = {
  name: 'relay',
  async start(runtime) {
    const relay = createRelay(
      { orm: runtime.orm, bus: runtime.bus, workerId: workerId('relay'), clock: runtime.clock },
      runtime.log,
    );
    relay.start();
    return relay;
  },
};
