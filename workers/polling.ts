// The loop every polling worker runs: a round, then at once again while rounds come back busy, else a pause;
// failures back off exponentially, and a database that is going away is waited out with a warning, not a
// stack. stop() wakes a pause and waits for the round in progress.
import { isDatabaseUnavailable } from '../lib/db/pool.ts';
import type { Logger } from '../lib/telemetry/logger.ts';

export interface PollingLoop {
  start(): void;
  stop(): Promise<void>;
}

export function pollingLoop(options: {
  /** Names the worker in its log lines. */
  name: string;
  /** One round; true when more work may be waiting, so the next round starts at once. */
  round: () => Promise<boolean>;
  idleMs: number;
  /** Back-off after n failures in a row: idleMs × 2^min(n, this), at most 30 s. */
  maxBackoffExponent: number;
  log: Pick<Logger, 'error' | 'warn'>;
}): PollingLoop {
  let stopped = false;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const run = async () => {
    let failures = 0;
    while (!stopped) {
      try {
        const busy = await options.round();
        failures = 0;
        if (!busy && !stopped) await pause(options.idleMs);
      } catch (err) {
        failures++;
        // the database going away (a restart, a failover, Ctrl-C reaching it first) is waited out, not a bug
        if (isDatabaseUnavailable(err)) {
          options.log.warn(
            { err: (err as Error).message },
            `${options.name}: database unavailable; retrying`,
          );
        } else options.log.error({ err }, `${options.name} round failed`);
        if (!stopped)
          await pause(Math.min(30_000, options.idleMs * 2 ** Math.min(options.maxBackoffExponent, failures)));
      }
    }
  };

  return {
    start() {
      loop ??= run();
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
