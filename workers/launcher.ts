// Starts workers by name on one worker ORM and the given bus: all of them beside the services in `npm start`,
// or one per process with `npm run start:worker -- <name>`.
import type { Bus } from '../lib/bus/index.ts';
import type { Config } from '../lib/config.ts';
import { createLogger } from '../lib/telemetry/logger.ts';
import { WORKERS } from './registry.ts';
import { createWorkerOrm, type RunningWorker } from './runtime.ts';

export interface RunningWorkers {
  names: string[];
  stop(): Promise<void>;
}

export async function startWorkers(
  names: readonly string[],
  config: Readonly<Config>,
  bus: Bus,
  clock: () => Date = () => new Date(),
): Promise<RunningWorkers> {
  const orm = await createWorkerOrm(config);
  const running: RunningWorker[] = [];
  const stop = async () => {
    for (const worker of running.splice(0).reverse()) await worker.stop();
    await orm.close();
  };
  try {
    for (const name of names) {
      const definition = WORKERS[name];
      if (!definition) throw new Error(`unknown worker ${name}`);
      const log = createLogger(`worker:${name}`, config.logLevel);
      running.push(await definition.start({ config, orm, bus, log, clock }));
      log.info('worker started');
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { names: [...names], stop };
}
