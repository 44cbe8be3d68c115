// Stopping an address (reply, bounce, unsubscribe): the enrolment it happened in and the address's other running
// enrolments in the organisation stop, unsent drafts are kept as not sent, suppressions are written through
// crm.suppress_addresses, and another organisation's enrolments of the same address are untouched.
import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.ts';
import { rawQuery, withTenant } from '../lib/db/orm.ts';
import { stopAddress } from '../subgraphs/outreach/services/stops.ts';
import { createWorkerOrm } from '../workers/runtime.ts';
import { type CampaignSeed, seedDraftCampaign } from './helpers/drafts.ts';
import { type WorkerDatabase, workerDatabase } from './helpers/worker-db.ts';

let db: WorkerDatabase;
let orm: MikroORM;

beforeAll(async () => {
  db = await workerDatabase('stops');
  orm = await createWorkerOrm(loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.ownerUrl }));
});
afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

/** Two campaigns of one organisation, and one of another, all enrolling `email` (plus one other prospect). */
async function seedSameAddress(email: string) {
  const organisationId = randomUUID();
  const seeds: CampaignSeed[] = [];
  for (const org of [organisationId, organisationId, randomUUID()]) {
    const seed = await seedDraftCampaign(db.owner, {
      organisationId: org,
      steps: [
        { subject: 'Hi', body: 'Hello' },
        { body: 'Again', threadWithPrevious: true },
      ],
      people: [{ firstName: 'Léa' }, { firstName: 'Paul' }],
    });
    await db.owner.query('UPDATE outreach.campaign_enrollments SET email = $1 WHERE id = $2', [
      email,
      seed.enrollments[0]!.id,
    ]);
    seeds.push(seed);
  }
  return { organisationId, seeds };
}

async function statusOf(enrollmentId: string) {
  const { rows } = await db.owner.query(
    'SELECT status, stopped_reason FROM outreach.campaign_enrollments WHERE id = $1',
    [enrollmentId],
  );
  return rows[0];
}

describe('stopping an address', () => {
  it('a bounce: BOUNCED where it happened and in the other campaign, suppressed, other organisation untouched', async () => {
    const email = `lea.${randomUUID().slice(0, 8)}@client.fr`;
    const { organisationId, seeds } = await seedSameAddress(email);
    const [here, elsewhere, otherOrg] = seeds as [CampaignSeed, CampaignSeed, CampaignSeed];
    const messageId = randomUUID();
    const result = await withTenant(orm, organisationId, (em) =>
      stopAddress(em, {
        cause: 'BOUNCED',
        email: email.toUpperCase(),
        enrollmentId: here.enrollments[0]!.id,
        messageId,
      }),
    );
    expect(result.suppressed).toBe(true);
    expect(result.stopped.map((s) => s.enrollmentId).sort()).toEqual(
      [here.enrollments[0]!.id, elsewhere.enrollments[0]!.id].sort(),
    );
    expect(await statusOf(here.enrollments[0]!.id)).toEqual({ status: 'BOUNCED', stopped_reason: 'BOUNCED' });
    expect(await statusOf(elsewhere.enrollments[0]!.id)).toEqual({
      status: 'BOUNCED',
      stopped_reason: 'SUPPRESSED_BOUNCED',
    });
    // the other prospect and the other organisation's enrolment of the same address go on
    expect((await statusOf(here.enrollments[1]!.id)).status).toBe('ACTIVE');
    expect((await statusOf(otherOrg.enrollments[0]!.id)).status).toBe('ACTIVE');
    const { rows: suppressions } = await db.owner.query(
      'SELECT organisation_id, value::text, kind, reason FROM crm.suppressions WHERE value = $1',
      [email],
    );
    expect(suppressions).toEqual([
      { organisation_id: organisationId, value: email, kind: 'EMAIL', reason: 'BOUNCED' },
    ]);
    const { rows: tasks } = await db.owner.query(
      'SELECT status FROM outreach.tasks WHERE enrollment_id = ANY ($1)',
      [[here.enrollments[0]!.id, elsewhere.enrollments[0]!.id]],
    );
    expect(tasks.every((t) => t.status === 'CANCELLED')).toBe(true);
    const { rows: events } = await db.owner.query(
      `SELECT topic, campaign_id, payload FROM outreach.outbox WHERE organisation_id = $1 ORDER BY campaign_id, sequence`,
      [organisationId],
    );
    expect(events).toContainEqual({
      topic: 'BOUNCED',
      campaign_id: here.campaignId,
      payload: { enrollmentId: here.enrollments[0]!.id, messageId },
    });
    expect(events.filter((e) => e.topic === 'BOUNCED')).toHaveLength(1);
    expect(events.filter((e) => e.topic === 'ENROLLMENT_CHANGED')).toHaveLength(2);

    // again: nothing more happens
    const again = await withTenant(orm, organisationId, (em) =>
      stopAddress(em, { cause: 'BOUNCED', email, enrollmentId: here.enrollments[0]!.id, messageId }),
    );
    expect(again).toEqual({ stopped: [], suppressed: false });
  });

  it('a reply: REPLIED where it happened, stopped elsewhere, never suppressed', async () => {
    const email = `paul.${randomUUID().slice(0, 8)}@client.fr`;
    const { organisationId, seeds } = await seedSameAddress(email);
    const [here, elsewhere] = seeds as [CampaignSeed, CampaignSeed];
    await withTenant(orm, organisationId, (em) =>
      stopAddress(em, {
        cause: 'REPLIED',
        email,
        enrollmentId: here.enrollments[0]!.id,
        messageId: randomUUID(),
      }),
    );
    expect(await statusOf(here.enrollments[0]!.id)).toEqual({ status: 'REPLIED', stopped_reason: 'REPLIED' });
    expect(await statusOf(elsewhere.enrollments[0]!.id)).toEqual({
      status: 'STOPPED',
      stopped_reason: 'REPLIED_ELSEWHERE',
    });
    const { rows } = await db.owner.query('SELECT 1 FROM crm.suppressions WHERE value = $1', [email]);
    expect(rows).toEqual([]);
  });

  it('suppression goes through the function only, in the caller organisation, for the allowed reasons', async () => {
    const organisationId = randomUUID();
    await db.owner.query(`INSERT INTO iam.organisations (id, name) VALUES ($1, 'Org')`, [organisationId]);
    await expect(
      withTenant(orm, organisationId, (em) =>
        rawQuery(em, 'SELECT * FROM crm.suppress_addresses(?::text[], ?)', [['a@b.fr'], 'MANUAL']),
      ),
    ).rejects.toThrow(/p_reason/);
    await expect(
      withTenant(orm, organisationId, (em) =>
        rawQuery(
          em,
          `INSERT INTO crm.suppressions (organisation_id, id, value, kind, reason)
          VALUES (public.current_organisation_id(), gen_random_uuid(), 'x@y.fr', 'EMAIL', 'MANUAL')`,
        ),
      ),
    ).rejects.toThrow(/permission denied/);
    await expect(
      rawQuery(orm.em.fork(), 'SELECT * FROM crm.suppress_addresses(?::text[], ?)', [['a@b.fr'], 'BOUNCED']),
    ).rejects.toThrow(/tenant transaction/);
  });
});
