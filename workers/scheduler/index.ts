// The scheduler: every SCHEDULER_INTERVAL_MS it claims due tasks and dispatches them (at once again while
// rounds come back full). Any number may run: a task is claimed by one of them at a time.
import { isDatabaseUnavailable } from '../../lib/db/pool.ts';
import type { Logger } from '../../lib/telemetry/logger.ts';
import { type RunningWorker, type WorkerDefinition, workerId } from '../runtime.ts';
import { type RoundResult, type SchedulerDeps, type SchedulerLimits, schedulerRound } from './handler.ts';

export interface Scheduler extends RunningWorker {
  /** Rounds every interval until stopped. */
  start(): void;
  /** One round: claim, dispatch, publish. */
  runOnce(): Promise<RoundResult>;
}

export const DEFAULT_LIMITS: SchedulerLimits = { batchSize: 1000, leaseSeconds: 60, queuedLeaseSeconds: 600 };

export function createScheduler(
  deps: SchedulerDeps,
  log: Pick<Logger, 'error' | 'warn' | 'info'>,
  options: { intervalMs: number; limits?: Partial<SchedulerLimits> },
): Scheduler {
  const limits: SchedulerLimits = { ...DEFAULT_LIMITS, ...options.limits };
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
        const round = await schedulerRound(deps, limits);
        failures = 0;
        if (round.claimed < limits.batchSize && !stopped) await pause(options.intervalMs);
      } catch (err) {
        failures++;
        if (isDatabaseUnavailable(err)) {
          log.warn({ err: (err as Error).message }, 'scheduler: database unavailable; retrying');
        } else
          log.error({ err }, 'scheduler round failed; its tasks are claimed again when their lease ends');
        if (!stopped) await pause(Math.min(30_000, options.intervalMs * 2 ** Math.min(5, failures)));
      }
    }
  };

  return {
    name: 'scheduler',
    runOnce: () => schedulerRound(deps, limits),
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

export const schedulerWorker: WorkerDefinition = {
  name: 'scheduler',
  async start(runtime) {
    const scheduler = createScheduler(
      { orm: runtime.orm, bus: runtime.bus, workerId: workerId('scheduler'), clock: runtime.clock },
      runtime.log,
      { intervalMs: runtime.config.scheduler.intervalMs },
    );
    scheduler.start();
    return scheduler;
  },
};
