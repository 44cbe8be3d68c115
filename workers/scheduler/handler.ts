// One scheduler round: claim due tasks across organisations, run each organisation's batch through the
// scheduling rules in its tenant transaction, then hand the dispatched tasks to their queues. A crash after
// commit and before publishing leaves the tasks leased: they are claimed and handed on again when the lease
// ends (the drafter is idempotent by task).
import type { MikroORM } from '@mikro-orm/postgresql';
import { TASK_QUEUES } from '../../lib/bus/catalog.ts';
import type { Bus } from '../../lib/bus/index.ts';
import { groupBy } from '../../lib/collections.ts';
import { rawQuery, withTenant } from '../../lib/db/orm.ts';
import { type DispatchedTask, dispatchTasks } from '../../subgraphs/outreach/services/dispatch.ts';

export interface SchedulerDeps {
  orm: MikroORM;
  bus: Bus;
  workerId: string;
  clock: () => Date;
}

export interface SchedulerLimits {
  /** Tasks claimed per round. */
  batchSize: number;
  /** How long a claimed task stays with this scheduler if it dies mid-round. */
  leaseSeconds: number;
  /** How long a dispatched task waits for the drafter before it is dispatched again. */
  queuedLeaseSeconds: number;
}

export interface RoundResult {
  claimed: number;
  queued: number;
  rescheduled: number;
  cancelled: number;
}

/** Claims up to `limit` due tasks; ids and organisation only. */
export async function claimTasks(
  deps: Pick<SchedulerDeps, 'orm' | 'workerId'>,
  now: Date,
  limit: number,
  leaseSeconds: number,
): Promise<{ organisationId: string; taskId: string }[]> {
  const rows = await rawQuery<{ organisation_id: string; id: string }>(
    deps.orm.em.fork(),
    'SELECT organisation_id, id FROM outreach.claim_due_tasks(?, ?, ?, ?)',
    [limit, leaseSeconds, deps.workerId, now],
  );
  return rows.map((r) => ({ organisationId: r.organisation_id, taskId: r.id }));
}

export async function schedulerRound(deps: SchedulerDeps, limits: SchedulerLimits): Promise<RoundResult> {
  const now = deps.clock();
  const claims = await claimTasks(deps, now, limits.batchSize, limits.leaseSeconds);
  const byOrganisation = groupBy(claims, (c) => c.organisationId);

  const result: RoundResult = { claimed: claims.length, queued: 0, rescheduled: 0, cancelled: 0 };
  for (const [organisationId, organisationClaims] of byOrganisation) {
    const taskIds = organisationClaims.map((c) => c.taskId);
    const outcome = await withTenant(deps.orm, organisationId, (em) =>
      dispatchTasks(em, taskIds, {
        workerId: deps.workerId,
        now,
        queuedLeaseSeconds: limits.queuedLeaseSeconds,
      }),
    );
    try {
      await publish(deps.bus, organisationId, outcome.queued);
    } catch (error) {
      // The broker is away: the tasks were dispatched but not handed on. Their leases would keep them waiting
      // for the queued-lease time; released, the next round after the broker is back hands them on again.
      await releaseLeases(deps, organisationId, outcome.queued).catch(() => {});
      throw error;
    }
    result.queued += outcome.queued.length;
    result.rescheduled += outcome.rescheduled;
    result.cancelled += outcome.cancelled;
  }
  return result;
}

async function releaseLeases(
  deps: Pick<SchedulerDeps, 'orm' | 'workerId' | 'clock'>,
  organisationId: string,
  tasks: DispatchedTask[],
): Promise<void> {
  if (tasks.length === 0) return;
  await withTenant(deps.orm, organisationId, (em) =>
    rawQuery(
      em,
      `UPDATE outreach.tasks SET leased_until = ?, updated_at = now()
       WHERE id = ANY (?::uuid[]) AND leased_by = ? AND status = 'QUEUED'`,
      [deps.clock(), tasks.map((t) => t.taskId), deps.workerId],
    ),
  );
}

async function publish(bus: Bus, organisationId: string, tasks: DispatchedTask[]): Promise<void> {
  for (const kind of ['DRAFT', 'SEND'] as const) {
    const messages = tasks.filter((t) => t.kind === kind).map((t) => ({ organisationId, taskId: t.taskId }));
    // confirmed together, not one by one
    if (messages.length > 0) await bus.sendMany(TASK_QUEUES[kind].name, messages);
  }
}
