// A large ingest leaves the planner with statistics that know what it wrote, whatever autovacuum does.
import { describe, expect, it } from 'vitest';
import { IngestPharowDocument } from './generated/graphql.ts';
import { newOrganisation, ok } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';
import { pharowItem } from './helpers/pharow.ts';

const ITEMS = 3000;

/** The planner's row estimate for one organisation's positions, and the real count. */
async function estimateAndCount(organisationId: string): Promise<{ estimate: number; count: number }> {
  return withClient(ownerClient(), async (c) => {
    const plan = await c.query(
      `EXPLAIN (FORMAT JSON) SELECT id FROM crm.positions WHERE organisation_id = '${organisationId}'`,
    );
    const estimate = Number(plan.rows[0]['QUERY PLAN'][0].Plan['Plan Rows']);
    const count = Number(
      (await c.query('SELECT count(*) FROM crm.positions WHERE organisation_id = $1', [organisationId]))
        .rows[0].count,
    );
    return { estimate, count };
  });
}

describe('statistics after bulk writes', () => {
  it('estimates an organisation that just ingested thousands of positions at about its real size', async () => {
    const org = await newOrganisation();
    const data = Array.from({ length: ITEMS }, () => pharowItem());
    const { ingestPharow } = await ok(
      IngestPharowDocument,
      { input: { version: 'V2', data } },
      { token: org.accessToken },
    );
    expect(ingestPharow.positions.created).toBe(ITEMS);
    const { estimate, count } = await estimateAndCount(org.organisation.id);
    expect(count).toBe(ITEMS);
    // without fresh statistics the planner guesses a handful of rows and picks nested loops
    expect(estimate).toBeGreaterThan(count / 2);
    expect(estimate).toBeLessThan(count * 2);
  });
});
