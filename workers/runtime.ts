// What every worker runs on: the worker database role (tenant transactions only, plus the claim functions),
// the shared bus, a logger and a clock. Workers import no resolver and nothing of the gateway.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Bus } from '../lib/bus/index.ts';
import type { Config } from '../lib/config.ts';
import { createOrm } from '../lib/db/orm.ts';
import { serviceDatabaseUrl } from '../lib/db/roles.ts';
import type { Logger } from '../lib/telemetry/logger.ts';
import { Campaign } from '../subgraphs/outreach/entities/campaign.entity.ts';
import { Enrollment } from '../subgraphs/outreach/entities/enrollment.entity.ts';
import { Mailbox } from '../subgraphs/outreach/entities/mailbox.entity.ts';
import { Message } from '../subgraphs/outreach/entities/message.entity.ts';
import { Prompt } from '../subgraphs/outreach/entities/prompt.entity.ts';
import { StepExperiment, StepVariant } from '../subgraphs/outreach/entities/step-experiment.entity.ts';
import { WorkflowStep } from '../subgraphs/outreach/entities/workflow-step.entity.ts';

export interface WorkerRuntime {
  config: Readonly<Config>;
  /** Logged in as prospectflow_worker: sees tenant rows only inside withTenant/openTenantScope. */
  orm: MikroORM;
  bus: Bus;
  log: Logger;
  clock: () => Date;
}

export interface RunningWorker {
  name: string;
  stop(): Promise<void>;
}

export interface WorkerDefinition {
  name: string;
  start(runtime: WorkerRuntime): Promise<RunningWorker>;
}

/** Names a lease holder in the database: which host and process claimed a row. */
export function workerId(name: string): string {
  return `${name}@${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

// the outreach entities the workers read and write (the subgraph's own list sits beside its resolvers)
export const WORKER_ENTITIES: Function[] = [
  Mailbox,
  Prompt,
  Campaign,
  WorkflowStep,
  StepExperiment,
  StepVariant,
  Enrollment,
  Message,
];
export const WORKER_TENANT_ENTITIES: string[] = WORKER_ENTITIES.map((entity) => entity.name);

export async function createWorkerOrm(config: Readonly<Config>, poolMax = 10): Promise<MikroORM> {
  if (!config.databaseUrl) throw new Error('databaseUrl must be resolved before starting a worker');
  return createOrm({
    databaseUrl: serviceDatabaseUrl(config.databaseUrl, 'worker', config.databasePasswords.worker),
    schema: 'outreach',
    entities: WORKER_ENTITIES,
    tenantEntities: WORKER_TENANT_ENTITIES,
    poolMax,
  });
}
