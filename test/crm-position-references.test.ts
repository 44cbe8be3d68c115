// A position's company and person (migration 0070): checked once per statement, deleted with them, and never
// left behind by a delete that races a write.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { newOrganisation } from './helpers/client.ts';
import { ownerClient, serviceClient, withClient } from './helpers/db.ts';

const INSERT_POSITIONS = `INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email)
  SELECT $1::uuid, gen_random_uuid(), u.c, u.p, u.e FROM unnest($2::uuid[], $3::uuid[], $4::text[]) AS u(c, p, e)`;

/** Companies and people of one organisation, written as the owner; returns their ids. */
async function seed(organisationId: string, companies: number, people: number) {
  const ids = {
    companies: Array.from({ length: companies }, () => randomUUID()),
    people: Array.from({ length: people }, () => randomUUID()),
  };
  await withClient(ownerClient(), async (c) => {
    await c.query(
      `INSERT INTO crm.companies (organisation_id, id, name)
       SELECT $1, id, 'Company ' || n FROM unnest($2::uuid[]) WITH ORDINALITY AS u(id, n)`,
      [organisationId, ids.companies],
    );
    await c.query(
      `INSERT INTO crm.people (organisation_id, id, first_name, last_name)
       SELECT $1, id, 'Jeanne', 'Person ' || n FROM unnest($2::uuid[]) WITH ORDINALITY AS u(id, n)`,
      [organisationId, ids.people],
    );
  });
  return ids;
}

/** The crm service's own connection, inside a transaction for the organisation. */
async function crmSession(organisationId: string, isolation = 'READ COMMITTED'): Promise<pg.Client> {
  const c = serviceClient('crm');
  await c.connect();
  await c.query(`BEGIN ISOLATION LEVEL ${isolation}`);
  await c.query("SELECT set_config('app.organisation_id', $1, true)", [organisationId]);
  return c;
}

async function finish(c: pg.Client, commit: boolean) {
  try {
    await c.query(commit ? 'COMMIT' : 'ROLLBACK');
  } finally {
    await c.end();
  }
}

async function positionsOf(organisationId: string) {
  return withClient(ownerClient(), async (c) => {
    const { rows } = await c.query(
      'SELECT id, company_id, person_id, email FROM crm.positions WHERE organisation_id = $1 ORDER BY email',
      [organisationId],
    );
    return rows as { id: string; company_id: string; person_id: string; email: string }[];
  });
}

/** Positions of the organisation whose company or person is missing (none, ever). */
async function orphans(organisationId: string): Promise<number> {
  return withClient(ownerClient(), async (c) => {
    const { rows } = await c.query(
      `SELECT count(*)::int AS n FROM crm.positions p WHERE p.organisation_id = $1 AND (
         NOT EXISTS (SELECT FROM crm.companies c WHERE c.organisation_id = p.organisation_id AND c.id = p.company_id)
         OR NOT EXISTS (SELECT FROM crm.people x WHERE x.organisation_id = p.organisation_id AND x.id = p.person_id))`,
      [organisationId],
    );
    return rows[0].n;
  });
}

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: { code?: string; message?: string }) => ({ code: error.code, message: error.message }),
  );

describe('a position refers to its company and person', () => {
  it('refuses a statement with one position whose company or person is missing, and writes none of its rows', async () => {
    const { organisation } = await newOrganisation();
    const other = await newOrganisation();
    const ids = await seed(organisation.id, 2, 3);
    const theirs = await seed(other.organisation.id, 1, 1);
    const attempts = [
      // the third position's company does not exist
      [ids.companies[0], ids.companies[1], randomUUID()],
      // it exists, in another organisation
      [ids.companies[0], ids.companies[1], theirs.companies[0]],
    ];
    for (const companies of attempts) {
      const c = await crmSession(organisation.id);
      const refused = await rejection(
        c.query(INSERT_POSITIONS, [organisation.id, companies, ids.people, ['a@x.fr', 'b@x.fr', 'c@x.fr']]),
      );
      await finish(c, false);
      expect(refused).toEqual({ code: '23503', message: expect.stringMatching(/foreign key.*company/) });
    }
    const c = await crmSession(organisation.id);
    const refused = await rejection(
      c.query(INSERT_POSITIONS, [
        organisation.id,
        [ids.companies[0], ids.companies[0], ids.companies[1]],
        [ids.people[0], randomUUID(), ids.people[2]],
        ['a@x.fr', 'b@x.fr', 'c@x.fr'],
      ]),
    );
    await finish(c, false);
    expect(refused).toEqual({ code: '23503', message: expect.stringMatching(/foreign key.*person/) });
    expect(await positionsOf(organisation.id)).toEqual([]);

    // the same rows with every reference in place are written
    const ok = await crmSession(organisation.id);
    await ok.query(INSERT_POSITIONS, [
      organisation.id,
      [ids.companies[0], ids.companies[0], ids.companies[1]],
      ids.people,
      ['a@x.fr', 'b@x.fr', 'c@x.fr'],
    ]);
    await finish(ok, true);
    expect((await positionsOf(organisation.id)).map((p) => p.email)).toEqual(['a@x.fr', 'b@x.fr', 'c@x.fr']);
  });

  it('refuses moving a position to a missing person, and a referenced company a new id', async () => {
    const { organisation } = await newOrganisation();
    const ids = await seed(organisation.id, 2, 1);
    const setUp = await crmSession(organisation.id);
    await setUp.query(INSERT_POSITIONS, [organisation.id, [ids.companies[0]], ids.people, ['a@x.fr']]);
    await finish(setUp, true);
    const before = await positionsOf(organisation.id);

    let c = await crmSession(organisation.id);
    const moved = await rejection(c.query('UPDATE crm.positions SET person_id = $1', [randomUUID()]));
    await finish(c, false);
    expect(moved).toEqual({ code: '23503', message: expect.stringMatching(/foreign key.*person/) });

    c = await crmSession(organisation.id);
    const renamed = await rejection(
      c.query('UPDATE crm.companies SET id = $1 WHERE id = $2', [randomUUID(), ids.companies[0]]),
    );
    await finish(c, false);
    expect(renamed).toEqual({ code: '23503', message: expect.stringMatching(/positions still refer/) });
    expect(await positionsOf(organisation.id)).toEqual(before);

    // a company no position refers to may change its id; a position may move to another existing company
    c = await crmSession(organisation.id);
    await c.query('UPDATE crm.companies SET id = $1 WHERE id = $2', [randomUUID(), ids.companies[1]]);
    await c.query('UPDATE crm.positions SET company_id = (SELECT id FROM crm.companies WHERE id <> $1)', [
      ids.companies[0],
    ]);
    await finish(c, true);
    expect(await orphans(organisation.id)).toBe(0);
  });

  it("deletes a company's or a person's positions with it, and their enrollments through them", async () => {
    const { organisation } = await newOrganisation();
    const ids = await seed(organisation.id, 2, 4);
    const setUp = await crmSession(organisation.id);
    await setUp.query(INSERT_POSITIONS, [
      organisation.id,
      [ids.companies[0], ids.companies[0], ids.companies[1], ids.companies[1]],
      ids.people,
      ['a@x.fr', 'b@x.fr', 'c@x.fr', 'd@x.fr'],
    ]);
    await finish(setUp, true);
    const positions = await positionsOf(organisation.id);
    const campaign = randomUUID();
    await withClient(ownerClient(), async (c) => {
      await c.query(
        `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour)
         VALUES ($1, $2, 'Relance', 'Europe/Paris', '{1,2,3,4,5}', 9, 18)`,
        [organisation.id, campaign],
      );
      await c.query(
        `INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id)
         SELECT $1, gen_random_uuid(), $2, p FROM unnest($3::uuid[]) AS u(p)`,
        [organisation.id, campaign, positions.map((p) => p.id)],
      );
    });

    const c = await crmSession(organisation.id);
    await c.query('DELETE FROM crm.companies WHERE id = $1', [ids.companies[0]]);
    await c.query('DELETE FROM crm.people WHERE id = $1', [ids.people[3]]);
    await finish(c, true);

    expect((await positionsOf(organisation.id)).map((p) => p.email)).toEqual(['c@x.fr']);
    const enrolled = await withClient(ownerClient(), async (o) => {
      const { rows } = await o.query(
        'SELECT position_id FROM outreach.campaign_enrollments WHERE organisation_id = $1',
        [organisation.id],
      );
      return rows.map((r) => r.position_id);
    });
    expect(enrolled).toEqual([positions.find((p) => p.email === 'c@x.fr')!.id]);
    expect(await orphans(organisation.id)).toBe(0);
  });

  it('a delete that races a write of positions waits for it, then deletes what it wrote', async () => {
    const { organisation } = await newOrganisation();
    const ids = await seed(organisation.id, 1, 2);
    const writer = await crmSession(organisation.id);
    await writer.query(INSERT_POSITIONS, [organisation.id, [ids.companies[0]], [ids.people[0]], ['a@x.fr']]);

    const deleter = await crmSession(organisation.id);
    let deleted = false;
    const deleting = deleter.query('DELETE FROM crm.companies WHERE id = $1', [ids.companies[0]]).then(() => {
      deleted = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // the writer still holds the organisation's ingest lock: the delete cannot have ended
    expect(deleted).toBe(false);
    await writer.query(INSERT_POSITIONS, [organisation.id, [ids.companies[0]], [ids.people[1]], ['b@x.fr']]);
    await finish(writer, true);
    await deleting;
    await finish(deleter, true);

    expect(await positionsOf(organisation.id)).toEqual([]);
    expect(await orphans(organisation.id)).toBe(0);
  });

  it('a delete under REPEATABLE READ, which could miss positions written meanwhile, is refused', async () => {
    const { organisation } = await newOrganisation();
    const ids = await seed(organisation.id, 1, 1);
    const c = await crmSession(organisation.id, 'REPEATABLE READ');
    const refused = await rejection(c.query('DELETE FROM crm.people WHERE id = $1', [ids.people[0]]));
    await finish(c, false);
    expect(refused).toEqual({ code: '0A000', message: expect.stringMatching(/READ COMMITTED/) });
  });
});

describe("a company's and a person's organisation", () => {
  it('refuses companies and people of an organisation that does not exist', async () => {
    const missing = randomUUID();
    for (const insert of [
      `INSERT INTO crm.companies (organisation_id, id, name) VALUES ($1, gen_random_uuid(), 'Fantôme SAS')`,
      `INSERT INTO crm.people (organisation_id, id, first_name) VALUES ($1, gen_random_uuid(), 'Jeanne')`,
    ]) {
      const c = await crmSession(missing);
      const refused = await rejection(c.query(insert, [missing]));
      await finish(c, false);
      expect(refused).toEqual({
        code: '23503',
        message: expect.stringMatching(/organisation does not exist/),
      });
    }
  });

  it('deleting an organisation deletes its companies, people, positions and enrollments, and no one else’s', async () => {
    const gone = await newOrganisation();
    const kept = await newOrganisation();
    for (const org of [gone, kept]) {
      const ids = await seed(org.organisation.id, 1, 2);
      const c = await crmSession(org.organisation.id);
      await c.query(INSERT_POSITIONS, [
        org.organisation.id,
        [ids.companies[0], ids.companies[0]],
        ids.people,
        ['a@x.fr', 'b@x.fr'],
      ]);
      await finish(c, true);
    }
    const counts = (organisationId: string) =>
      withClient(ownerClient(), async (c) => {
        const { rows } = await c.query(
          `SELECT (SELECT count(*)::int FROM crm.companies WHERE organisation_id = $1) AS companies,
                  (SELECT count(*)::int FROM crm.people WHERE organisation_id = $1) AS people,
                  (SELECT count(*)::int FROM crm.positions WHERE organisation_id = $1) AS positions`,
          [organisationId],
        );
        return rows[0];
      });
    expect(await counts(gone.organisation.id)).toEqual({ companies: 1, people: 2, positions: 2 });
    await withClient(ownerClient(), (c) =>
      c.query('DELETE FROM iam.organisations WHERE id = $1', [gone.organisation.id]),
    );
    expect(await counts(gone.organisation.id)).toEqual({ companies: 0, people: 0, positions: 0 });
    expect(await counts(kept.organisation.id)).toEqual({ companies: 1, people: 2, positions: 2 });
  });

  it('an organisation is not deleted under a transaction still writing its people', async () => {
    const { organisation } = await newOrganisation();
    const writer = await crmSession(organisation.id);
    await writer.query(
      `INSERT INTO crm.people (organisation_id, id, first_name) VALUES ($1, gen_random_uuid(), 'Jeanne')`,
      [organisation.id],
    );
    const owner = ownerClient();
    await owner.connect();
    let deleted = false;
    const deleting = owner
      .query('DELETE FROM iam.organisations WHERE id = $1', [organisation.id])
      .then(() => {
        deleted = true;
      });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(deleted).toBe(false);
      await finish(writer, true);
      await deleting;
      const { rows } = await owner.query(
        'SELECT count(*)::int AS n FROM crm.people WHERE organisation_id = $1',
        [organisation.id],
      );
      expect(rows[0].n).toBe(0);
    } finally {
      await deleting.catch(() => undefined);
      await owner.end();
    }
  });
});
