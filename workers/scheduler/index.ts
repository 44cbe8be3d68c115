// The scheduler: every SCHEDULER_INTERVAL_MS it claims due tasks and dispatches them (at once again while
// rounds come back full). Any number may run: a task is claimed by one of them at a time.
import type { Logger } from '../../lib/telemetry/logger.ts';
import { pollingLoop } from '../polling.ts';
import { type RunningWorker, type WorkerDefinition, workerId } from '../runtime.ts';
import { type RoundResult, type SchedulerDeps, type SchedulerLimits, schedulerRound } from './handler.ts';
import { refreshStaleStatistics } from './statistics.ts';

export interface Scheduler extends RunningWorker {
  /** Rounds every interval until stopped. */
  start(): void;
  /** One round: claim, dispatch, publish. */
  runOnce(): Promise<RoundResult>;
}

export const DEFAULT_LIMITS: SchedulerLimits = { batchSize: 1000, leaseSeconds: 60, queuedLeaseSeconds: 600 };

/** How often the pipeline tables' statistics are looked at (statistics.ts). */
const STATISTICS_EVERY_MS = 5000;

export function createScheduler(
  deps: SchedulerDeps,
  log: Pick<Logger, 'error' | 'warn' | 'info'>,
  options: { intervalMs: number; limits?: Partial<SchedulerLimits> },
): Scheduler {
  const limits: SchedulerLimits = { ...DEFAULT_LIMITS, ...options.limits };
  let statisticsAt = 0;
  const keepStatistics = async () => {
    const now = Date.now();
    if (now - statisticsAt < STATISTICS_EVERY_MS) return;
    statisticsAt = now;
    try {
      const analysed = await refreshStaleStatistics(deps.orm);
      if (analysed.length > 0) log.info({ tables: analysed }, 'pipeline statistics refreshed');
    } catch (error) {
      // late statistics make claims slower, never wrong: the rounds go on
      log.warn({ err: error }, 'pipeline statistics not refreshed');
    }
  };
  const loop = pollingLoop({
    name: 'scheduler',
    round: async () => {
      await keepStatistics();
      // a full round means more may be due: go again at once
      return (await schedulerRound(deps, limits)).claimed >= limits.batchSize;
    },
    idleMs: options.intervalMs,
    maxBackoffExponent: 5,
    log,
  });

  return {
    name: 'scheduler',
    runOnce: () => schedulerRound(deps, limits),
    start: loop.start,
    stop: loop.stop,
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
