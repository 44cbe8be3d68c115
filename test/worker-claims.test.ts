// Workers find due work across organisations only through the claim functions, which lease rows so that
// two claimers never share one, and return ids with their organisation and nothing more.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceDatabaseUrl } from '../lib/db/roles.ts';
import { seedCampaign, seedTasks, type WorkerDatabase, workerDatabase } from './helpers/worker-db.ts';

let db: WorkerDatabase;
let worker: pg.Pool;
beforeAll(async () => {
  db = await workerDatabase('claims');
  worker = new pg.Pool({ connectionString: db.workerUrl, max: 8 });
});
afterAll(async () => {
  await worker?.end();
  await db?.drop();
});

interface Claimed {
  organisation_id: string;
  id: string;
  kind: string;
}

async function claim(limit: number, leaseSeconds: number, name: string, now: Date): Promise<Claimed[]> {
  const { rows } = await worker.query('SELECT * FROM outreach.claim_due_tasks($1, $2, $3, $4)', [
    limit,
    leaseSeconds,
    name,
    now,
  ]);
  return rows;
}

describe('claiming due tasks across organisations', () => {
  it('gives each due task to exactly one of many concurrent claimers, with its organisation', async () => {
    const now = new Date('2030-01-07T10:00:00Z');
    const a = await seedCampaign(db.owner);
    const b = await seedCampaign(db.owner);
    const due = [
      ...(await seedTasks(db.owner, a, 150, new Date('2030-01-07T09:00:00Z'))),
      ...(await seedTasks(db.owner, b, 150, new Date('2030-01-07T09:30:00Z'))),
    ];
    const later = await seedTasks(db.owner, a, 20, new Date('2030-01-07T11:00:00Z'));

    // 8 claimers on 8 connections, each claiming batches of 7 until nothing is left
    const perClaimer = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const mine: Claimed[] = [];
        for (;;) {
          const batch = await claim(7, 60, `scheduler-${i}`, now);
          if (batch.length === 0) return mine;
          mine.push(...batch);
        }
      }),
    );
    const all = perClaimer.flat();
    expect(all).toHaveLength(due.length);
    expect(new Set(all.map((t) => t.id)).size).toBe(due.length);
    expect(new Set(all.map((t) => t.id))).toEqual(new Set(due));
    expect(all.some((t) => later.includes(t.id))).toBe(false);
    const orgOf = new Map(all.map((t) => [t.id, t.organisation_id]));
    expect(due.slice(0, 150).every((id) => orgOf.get(id) === a.organisationId)).toBe(true);
    expect(due.slice(150).every((id) => orgOf.get(id) === b.organisationId)).toBe(true);
    // more than one claimer did work
    expect(perClaimer.filter((c) => c.length > 0).length).toBeGreaterThan(1);

    // the lease is recorded on the row, by the claimer that got it
    const { rows } = await db.owner.query(
      'SELECT leased_by, leased_until FROM outreach.tasks WHERE id = $1',
      [all[0].id],
    );
    expect(rows[0].leased_until.toISOString()).toBe('2030-01-07T10:01:00.000Z');
    expect(rows[0].leased_by).toMatch(/^scheduler-\d$/);
  });

  it('takes over a task whose lease expired, and not one whose lease still runs', async () => {
    // earlier tests' leases have expired by then too: claim everything due, and look for this task
    const seed = await seedCampaign(db.owner);
    const start = new Date('2031-03-02T08:00:00Z');
    const [task] = await seedTasks(db.owner, seed, 1, new Date('2031-03-02T07:00:00Z'));
    const first = (await claim(10_000, 30, 'dies', start)).filter((t) => t.id === task);
    expect(first).toHaveLength(1);

    // the first scheduler died: 29 s later its lease still holds, 30 s later it is gone
    const during = await claim(10_000, 30, 'survivor', new Date(start.getTime() + 29_000));
    expect(during.map((t) => t.id)).not.toContain(task);
    const after = await claim(10_000, 30, 'survivor', new Date(start.getTime() + 30_000));
    expect(after.filter((t) => t.id === task)).toEqual([
      { organisation_id: seed.organisationId, id: task, kind: 'DRAFT' },
    ]);
    const { rows } = await db.owner.query('SELECT leased_by FROM outreach.tasks WHERE id = $1', [task]);
    expect(rows[0].leased_by).toBe('survivor');

    // a task handed on (QUEUED) whose worker never finished comes back once its lease ends
    await db.owner.query("UPDATE outreach.tasks SET status = 'QUEUED', leased_until = $2 WHERE id = $1", [
      task,
      new Date(start.getTime() + 600_000),
    ]);
    expect(
      (await claim(10_000, 30, 'x', new Date(start.getTime() + 599_000))).map((t) => t.id),
    ).not.toContain(task);
    expect((await claim(10_000, 30, 'x', new Date(start.getTime() + 600_000))).map((t) => t.id)).toContain(
      task,
    );
  });

  it('refuses a limit, lease or worker name out of range', async () => {
    const now = new Date();
    await expect(claim(0, 30, 'w', now)).rejects.toThrow(/p_limit/);
    await expect(claim(10, 0, 'w', now)).rejects.toThrow(/p_lease_seconds/);
    await expect(claim(10, 30, '', now)).rejects.toThrow(/p_worker/);
  });
});

describe("the worker role's walls", () => {
  it('sees no tenant row without the tenant setting, and only that organisation with it', async () => {
    const a = await seedCampaign(db.owner);
    const b = await seedCampaign(db.owner);
    await seedTasks(db.owner, a, 3, new Date('2040-01-01T00:00:00Z'));
    await seedTasks(db.owner, b, 2, new Date('2040-01-01T00:00:00Z'));
    const c = new pg.Client({ connectionString: db.workerUrl });
    await c.connect();
    try {
      for (const table of ['outreach.tasks', 'outreach.campaigns', 'outreach.outbox', 'crm.positions']) {
        const { rows } = await c.query(`SELECT count(*)::int AS n FROM ${table}`);
        expect({ table, n: rows[0].n }).toEqual({ table, n: 0 });
      }
      await c.query('BEGIN');
      await c.query("SELECT set_config('app.organisation_id', $1, true)", [a.organisationId]);
      const scoped = await c.query('SELECT DISTINCT organisation_id FROM outreach.tasks');
      expect(scoped.rows).toEqual([{ organisation_id: a.organisationId }]);
      // a's first prospect and the three its tasks were seeded for; none of b's
      const positions = await c.query('SELECT count(*)::int AS n FROM crm.positions');
      expect(positions.rows[0].n).toBe(4);
      // crm is read-only for workers
      await expect(c.query("UPDATE crm.positions SET email = 'x@example.fr'")).rejects.toThrow(
        /permission denied/,
      );
      await c.query('ROLLBACK');
      await expect(c.query('SELECT count(*) FROM iam.users')).rejects.toThrow(/permission denied/);
      await expect(c.query('SET ROLE postgres')).rejects.toThrow(/permission denied/);
    } finally {
      await c.end();
    }
  });

  it('is the only role that can run the claim functions, which return ids and the organisation only', async () => {
    for (const service of ['outreach', 'crm', 'gateway'] as const) {
      const c = new pg.Client({ connectionString: serviceDatabaseUrl(db.ownerUrl, service) });
      await c.connect();
      try {
        await expect(c.query("SELECT * FROM outreach.claim_due_tasks(1, 30, 'x', now())")).rejects.toThrow(
          /permission denied/,
        );
        await expect(c.query("SELECT * FROM outreach.claim_outbox(1, 30, 'x', now())")).rejects.toThrow(
          /permission denied/,
        );
      } finally {
        await c.end();
      }
    }
    const { rows } = await db.owner.query(
      `SELECT p.proname, p.prosecdef, p.proconfig, pg_get_function_result(p.oid) AS result,
         has_function_privilege('prospectflow_worker', p.oid, 'EXECUTE') AS worker_may
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = 'outreach' AND p.proname LIKE 'claim_%' ORDER BY 1`,
    );
    expect(rows).toEqual([
      {
        proname: 'claim_due_tasks',
        prosecdef: true,
        // a pinned search path (security definer); planned on every call (0024)
        proconfig: ['search_path=pg_catalog, pg_temp', 'plan_cache_mode=force_custom_plan'],
        result: 'TABLE(organisation_id uuid, id uuid, kind text)',
        worker_may: true,
      },
      {
        proname: 'claim_inbox_mailboxes',
        prosecdef: true,
        proconfig: ['search_path=pg_catalog, pg_temp', 'plan_cache_mode=force_custom_plan'],
        result: 'TABLE(organisation_id uuid, id uuid)',
        worker_may: true,
      },
      {
        proname: 'claim_outbox',
        prosecdef: true,
        proconfig: ['search_path=pg_catalog, pg_temp', 'plan_cache_mode=force_custom_plan'],
        result: 'TABLE(organisation_id uuid, campaign_id uuid, published_sequence bigint)',
        worker_may: true,
      },
    ]);
  });
});
