// A large ingest leaves the planner with statistics that know what it wrote, whatever autovacuum does: the CRM
// refreshes them right after the ingest has committed.
import { describe, expect, it } from 'vitest';
import { KNOWN_ITEMS_QUERY } from '../subgraphs/crm/services/known-items.ts';
import { IngestPharowDocument } from './generated/graphql.ts';
import { newOrganisation, ok } from './helpers/client.ts';
import { ownerClient, serviceClient, withClient } from './helpers/db.ts';
import { pharowItem } from './helpers/pharow.ts';

const ITEMS = 3000;
// the CRM refreshes the statistics once the ingest has committed, in the background (services/statistics.ts)
const REFRESHED = { timeout: 10_000, interval: 50 };
const TABLES = ['companies', 'people', 'positions'] as const;
type Table = (typeof TABLES)[number];

/** The planner's row estimate for one organisation's rows in a table, the real count and the table's size. */
async function estimateAndCount(
  organisationId: string,
  table: Table = 'positions',
): Promise<{ estimate: number; count: number; tableRows: number }> {
  return withClient(ownerClient(), async (c) => {
    const plan = await c.query(
      `EXPLAIN (FORMAT JSON) SELECT id FROM crm.${table} WHERE organisation_id = '${organisationId}'`,
    );
    const estimate = Number(plan.rows[0]['QUERY PLAN'][0].Plan['Plan Rows']);
    const count = Number(
      (await c.query(`SELECT count(*) FROM crm.${table} WHERE organisation_id = $1`, [organisationId]))
        .rows[0].count,
    );
    const tableRows = Number(
      (await c.query(`SELECT reltuples FROM pg_class WHERE oid = 'crm.${table}'::regclass`)).rows[0]
        .reltuples,
    );
    return { estimate, count, tableRows };
  });
}

async function ingest(accessToken: string, count: number) {
  const data = Array.from({ length: count }, () => pharowItem());
  const { ingestPharow } = await ok(
    IngestPharowDocument,
    { input: { version: 'V2', data } },
    { token: accessToken },
  );
  expect(ingestPharow.positions.created).toBe(count);
}

/** Statistics that know the tables as they are now, before the organisation under test writes anything. */
async function analyseIngestTables(): Promise<void> {
  await withClient(ownerClient(), (c) => c.query('ANALYZE crm.companies, crm.people, crm.positions'));
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

function scans(node: PlanNode): PlanNode[] {
  return [...(node['Relation Name'] ? [node] : []), ...(node.Plans ?? []).flatMap(scans)];
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
    const { count } = await estimateAndCount(org.organisation.id);
    expect(count).toBe(ITEMS);
    // without fresh statistics the planner guesses a handful of rows and picks nested loops
    await expect
      .poll(async () => (await estimateAndCount(org.organisation.id)).estimate, REFRESHED)
      .toBeGreaterThan(count / 2);
    expect((await estimateAndCount(org.organisation.id)).estimate).toBeLessThan(count * 2);
  });

  it('estimates an organisation new to tables that hold many others, though it adds under 10% of them', async () => {
    const others = await newOrganisation();
    await ingest(others.accessToken, 2000);
    await analyseIngestTables();
    const org = await newOrganisation();
    const NEW = 150;
    for (const table of TABLES) {
      const before = await estimateAndCount(org.organisation.id, table);
      // what makes this case: the share rule alone would not refresh, and the planner does not know the newcomer
      expect(NEW).toBeLessThan(before.tableRows * 0.1);
      expect(before.estimate).toBeLessThan(NEW / 2);
    }
    await ingest(org.accessToken, NEW);
    for (const table of TABLES) {
      const { count } = await estimateAndCount(org.organisation.id, table);
      expect(count).toBe(NEW);
      await expect
        .poll(async () => (await estimateAndCount(org.organisation.id, table)).estimate, REFRESHED)
        .toBeGreaterThan(count / 2);
      expect((await estimateAndCount(org.organisation.id, table)).estimate, table).toBeLessThan(count * 2);
    }
  });

  it("looks a known item's company and person up by key even while the statistics do not know the organisation", async () => {
    await analyseIngestTables();
    const org = await newOrganisation();
    // under the 50 rows that make an ingest refresh the statistics
    await ingest(org.accessToken, 40);
    const plan = await withClient(serviceClient('crm'), async (c) => {
      await c.query('BEGIN');
      try {
        await c.query("SELECT set_config('app.organisation_id', $1, true)", [org.organisation.id]);
        const hashes = await c.query(
          'SELECT array_agg(item_hash) AS hashes FROM crm.positions WHERE organisation_id = $1',
          [org.organisation.id],
        );
        expect(hashes.rows[0].hashes).toHaveLength(40);
        let n = 0;
        const sql = KNOWN_ITEMS_QUERY.replace(/\?/g, () => `$${++n}`);
        const explained = await c.query(`EXPLAIN (FORMAT JSON) ${sql}`, [
          org.organisation.id,
          hashes.rows[0].hashes,
        ]);
        return explained.rows[0]['QUERY PLAN'][0].Plan as PlanNode;
      } finally {
        await c.query('ROLLBACK');
      }
    });
    const lookups = scans(plan).filter((s) => s['Relation Name'] !== 'positions');
    expect(lookups.map((s) => s['Relation Name']).sort()).toEqual(['companies', 'people']);
    // never all of the organisation's companies (or people) for each position: the row's own key
    for (const scan of lookups) expect(scan['Index Cond'], scan['Relation Name']).toMatch(/\bid = pos\./);
  });
});
