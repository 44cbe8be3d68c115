// A database of its own for worker tests: the platform's relay runs on the shared test database and would
// take these tests' events, and claims must see only the rows a test made.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { migrate } from '../../lib/db/migrate.ts';
import { serviceDatabaseUrl } from '../../lib/db/roles.ts';

export interface WorkerDatabase {
  ownerUrl: string;
  workerUrl: string;
  owner: pg.Pool;
  drop(): Promise<void>;
}

export async function workerDatabase(tag: string): Promise<WorkerDatabase> {
  const name = `prospectflow_test_${process.pid}_${tag}`;
  const adminUrl = inject('adminDatabaseUrl');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const ownerUrl = url.toString();
  await migrate(ownerUrl);
  const owner = new pg.Pool({ connectionString: ownerUrl, max: 4 });
  return {
    ownerUrl,
    workerUrl: serviceDatabaseUrl(ownerUrl, 'worker'),
    owner,
    async drop() {
      await owner.end();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      // A pool's end() resolves before its connections have closed; forcing the drop while they close makes
      // the server terminate them, which surfaces in the test as an unhandled error. Let them go first.
      for (let i = 0; i < 100; i++) {
        const { rows } = await c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [
          name,
        ]);
        if (rows[0].n === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await c.end();
    },
  };
}

export interface Seed {
  organisationId: string;
  campaignId: string;
  stepId: string;
  enrollmentId: string;
}

/** An organisation with one campaign, one step and one enrolled position, written as the owner. */
export async function seedCampaign(owner: pg.Pool, organisationId: string = randomUUID()): Promise<Seed> {
  const [campaignId, stepId, enrollmentId, companyId, personId, positionId] = Array.from({ length: 6 }, () =>
    randomUUID(),
  );
  await owner.query(
    `INSERT INTO iam.organisations (id, name) VALUES ($1::uuid, 'Org ' || $1::text) ON CONFLICT DO NOTHING`,
    [organisationId],
  );
  await owner.query(
    `WITH c AS (INSERT INTO crm.companies (organisation_id, id, name) VALUES ($1, $2, 'Acme') RETURNING 1),
          p AS (INSERT INTO crm.people (organisation_id, id) VALUES ($1, $3) RETURNING 1)
     SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM p)`,
    [organisationId, companyId, personId],
  );
  await owner.query(
    `INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email) VALUES ($1, $2, $3, $4, $5)`,
    [organisationId, positionId, companyId, personId, `${positionId}@example.fr`],
  );
  await owner.query(
    `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour)
     VALUES ($1, $2, 'Campaign', 'Europe/Paris', '{1,2,3,4,5}', 9, 18)`,
    [organisationId, campaignId],
  );
  await owner.query(
    `INSERT INTO outreach.workflow_steps (organisation_id, id, campaign_id, index, delay_days) VALUES ($1, $2, $3, 0, 0)`,
    [organisationId, stepId, campaignId],
  );
  await owner.query(
    `INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id) VALUES ($1, $2, $3, $4)`,
    [organisationId, enrollmentId, campaignId, positionId],
  );
  return { organisationId, campaignId, stepId, enrollmentId };
}

/**
 * `count` PENDING draft tasks due at `scheduledFor`, each for a prospect of its own enrolled in the seed's
 * campaign (a step runs once per enrolment); returns their ids.
 */
export async function seedTasks(
  owner: pg.Pool,
  seed: Seed,
  count: number,
  scheduledFor: Date,
): Promise<string[]> {
  const { rows } = await owner.query(
    `WITH n AS (
       SELECT gen_random_uuid() AS person_id, gen_random_uuid() AS position_id, gen_random_uuid() AS enrollment_id,
         gen_random_uuid() AS task_id, i
       FROM generate_series(1, $5::int) i),
     company AS (SELECT company_id FROM crm.positions p JOIN outreach.campaign_enrollments e
       ON e.organisation_id = p.organisation_id AND e.position_id = p.id WHERE e.id = $2 AND e.organisation_id = $1),
     people AS (INSERT INTO crm.people (organisation_id, id) SELECT $1, person_id FROM n RETURNING id),
     positions AS (INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email)
       SELECT $1, n.position_id, company.company_id, people.id, n.position_id || '@example.fr'
       FROM n JOIN people ON people.id = n.person_id, company RETURNING id),
     enrollments AS (INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id)
       SELECT $1, n.enrollment_id, (SELECT campaign_id FROM outreach.workflow_steps WHERE organisation_id = $1 AND id = $3),
         positions.id
       FROM n JOIN positions ON positions.id = n.position_id RETURNING id)
     INSERT INTO outreach.tasks (organisation_id, id, enrollment_id, step_id, kind, scheduled_for)
     SELECT $1, n.task_id, enrollments.id, $3, 'DRAFT', $4 FROM n JOIN enrollments ON enrollments.id = n.enrollment_id
     ORDER BY n.i
     RETURNING id`,
    [seed.organisationId, seed.enrollmentId, seed.stepId, scheduledFor, count],
  );
  return rows.map((r) => r.id);
}
