// Searching prospects ignores accents and case, finds what was just written, and stays on the trigram indexes of
// the search terms (migration 0068) once they are indexed.
import { describe, expect, it } from 'vitest';
import { positionSearch } from '../subgraphs/crm/resolvers/position.resolver.ts';
import { FindPositionsDocument, IngestPharowDocument } from './generated/graphql.ts';
import { newOrganisation, ok } from './helpers/client.ts';
import { ownerClient, queuedSearchTerms, withClient } from './helpers/db.ts';
import { pharowItem } from './helpers/pharow.ts';
import { eventually } from './helpers/wait.ts';

async function searchFor(accessToken: string, search: string): Promise<(string | null)[]> {
  const { positions } = await ok(FindPositionsDocument, { filter: { search } }, { token: accessToken });
  return positions.edges.map((e) => e.node.email);
}

describe('position search', () => {
  it('finds French names whatever the accents and case', async () => {
    const org = await newOrganisation();
    const items = [
      pharowItem({
        company: { companyName: 'Société Générale' },
        person: { personFirstName: 'Hélène', personLastName: 'Lefèvre' },
        position: { positionEmail: 'helene.lefevre@socgen.fr' },
      }),
      pharowItem({
        company: { companyName: 'Crédit Agricole' },
        person: { personFirstName: 'Jérôme', personLastName: 'Façon' },
        position: { positionEmail: 'jerome.facon@ca.fr' },
      }),
      pharowItem({
        company: { companyName: 'Banque Populaire' },
        person: { personFirstName: 'Marc', personLastName: 'Dupont' },
        position: { positionEmail: 'marc.dupont@bp.fr' },
      }),
    ];
    await ok(IngestPharowDocument, { input: { data: items } }, { token: org.accessToken });
    const emailsFor = async (search: string) => {
      const { positions } = await ok(
        FindPositionsDocument,
        { filter: { search } },
        { token: org.accessToken },
      );
      return positions.edges.map((e) => e.node.email);
    };
    expect(await emailsFor('societe')).toEqual(['helene.lefevre@socgen.fr']);
    expect(await emailsFor('GENERALE')).toEqual(['helene.lefevre@socgen.fr']);
    expect(await emailsFor('Société Générale')).toEqual(['helene.lefevre@socgen.fr']);
    expect(await emailsFor('helene lefevre')).toEqual(['helene.lefevre@socgen.fr']);
    expect(await emailsFor('JEROME FACON')).toEqual(['jerome.facon@ca.fr']);
    expect(await emailsFor('crédit')).toEqual(['jerome.facon@ca.fr']);
    expect(await emailsFor('dupônt')).toEqual(['marc.dupont@bp.fr']);
    expect(await emailsFor('zzzz')).toEqual([]);
  });

  it('uses the trigram indexes on the unaccented names', async () => {
    const org = await newOrganisation();
    const orgId = org.organisation.id;
    // an organisation with thousands of prospects and fresh statistics, as after an ingest (on a couple of
    // thousand, reading the narrow term tables whole costs the planner about what the index does)
    await withClient(ownerClient(), async (c) => {
      await c.query(
        `WITH g AS (SELECT n, gen_random_uuid() AS company, gen_random_uuid() AS person FROM generate_series(1, 8000) n),
         companies AS (INSERT INTO crm.companies (organisation_id, id, name)
           SELECT $1, company, 'Entreprise ' || md5(n::text) FROM g),
         people AS (INSERT INTO crm.people (organisation_id, id, first_name, last_name)
           SELECT $1, person, 'Prénom' || n, md5(n::text) FROM g)
         INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email)
           SELECT $1, gen_random_uuid(), company, person, md5(n::text) || '@exemple.fr' FROM g`,
        [orgId],
      );
      await c.query('SELECT crm.index_search_terms(100000)');
      await c.query(
        'VACUUM ANALYZE crm.companies, crm.people, crm.positions, crm.company_terms, crm.person_terms, crm.position_terms, crm.search_queue',
      );
    });
    const search = positionSearch('societe');
    // the resolver's own condition, numbered for pg
    let n = 0;
    const condition = search.sql.replace(/\?/g, () => `$${++n}`);
    // auto_explain needs a superuser to load; the query itself then runs as the crm service's role
    const plan = await withClient(ownerClient(), async (c) => {
      // auto_explain reports the plans of the statements run inside the search function too
      const logs: string[] = [];
      c.on('notice', (msg) => logs.push(msg.message ?? ''));
      await c.query('BEGIN');
      try {
        await c.query("LOAD 'auto_explain'");
        await c.query('SET LOCAL auto_explain.log_min_duration = 0');
        await c.query('SET LOCAL auto_explain.log_nested_statements = on');
        await c.query('SET LOCAL client_min_messages = log');
        await c.query('SET LOCAL ROLE prospectflow_crm');
        await c.query("SELECT set_config('app.organisation_id', $1, true)", [orgId]);
        await c.query(
          `SELECT p.id FROM crm.positions p WHERE p.organisation_id = current_organisation_id() AND ${condition}`,
          search.params,
        );
        return logs.join('\n');
      } finally {
        await c.query('ROLLBACK');
      }
    });
    expect(plan).toMatch(/Bitmap Index Scan on company_terms_trgm/);
    expect(plan).toMatch(/Bitmap Index Scan on person_terms_trgm/);
    expect(plan).toMatch(/Bitmap Index Scan on position_terms_trgm/);
    // the names are found through the indexes, never by reading every company or person
    expect(plan).not.toMatch(/Seq Scan on (companies|people)/);
  });

  it('indexes the search terms of an ingest once it has committed', async () => {
    const org = await newOrganisation();
    const items = Array.from({ length: 30 }, () => pharowItem());
    await ok(IngestPharowDocument, { input: { data: items } }, { token: org.accessToken });
    await eventually(async () => (await queuedSearchTerms(org.organisation.id)) === 0, 10_000);
    const terms = await withClient(ownerClient(), async (c) => {
      const counts: number[] = [];
      for (const table of ['company_terms', 'person_terms', 'position_terms']) {
        const { rows } = await c.query(`SELECT count(*) FROM crm.${table} WHERE organisation_id = $1`, [
          org.organisation.id,
        ]);
        counts.push(Number(rows[0].count));
      }
      return counts;
    });
    expect(terms).toEqual([30, 30, 30]);
  });

  it('finds rows whose terms are still queued, by their current values', async () => {
    const org = await newOrganisation();
    const orgId = org.organisation.id;
    const owner = ownerClient();
    await owner.connect();
    try {
      await owner.query(
        `WITH c AS (INSERT INTO crm.companies (organisation_id, id, name) VALUES ($1, gen_random_uuid(), 'Établissements Müller') RETURNING id),
         p AS (INSERT INTO crm.people (organisation_id, id, first_name, last_name) VALUES ($1, gen_random_uuid(), 'Zoé', 'Éluard') RETURNING id)
         INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email)
           SELECT $1, gen_random_uuid(), c.id, p.id, 'zoe.eluard@muller.fr' FROM c, p`,
        [orgId],
      );
      // held: indexing skips locked rows, so these stay queued while the searches run
      await owner.query('BEGIN');
      const held = await owner.query(
        'SELECT kind FROM crm.search_queue WHERE organisation_id = $1 FOR UPDATE',
        [orgId],
      );
      expect(held.rows.map((r) => r.kind).sort()).toEqual(['c', 'e', 'p']);
      expect(await searchFor(org.accessToken, 'etablissements muller')).toEqual(['zoe.eluard@muller.fr']);
      expect(await searchFor(org.accessToken, 'zoe eluard')).toEqual(['zoe.eluard@muller.fr']);
      expect(await searchFor(org.accessToken, 'eluard@')).toEqual(['zoe.eluard@muller.fr']);
      await owner.query('COMMIT');

      await owner.query('SELECT crm.index_search_terms(100000)');
      expect(await queuedSearchTerms(orgId)).toBe(0);
      expect(await searchFor(org.accessToken, 'muller')).toEqual(['zoe.eluard@muller.fr']);

      // renamed: the stored term is one change behind until indexed, and the search goes by the live name
      await owner.query("UPDATE crm.companies SET name = 'Maison Dubois' WHERE organisation_id = $1", [
        orgId,
      ]);
      expect(await queuedSearchTerms(orgId)).toBe(1);
      expect(await searchFor(org.accessToken, 'etablissements')).toEqual([]);
      expect(await searchFor(org.accessToken, 'dubois')).toEqual(['zoe.eluard@muller.fr']);
      await owner.query('SELECT crm.index_search_terms(100000)');
      expect(await searchFor(org.accessToken, 'etablissements')).toEqual([]);
      expect(await searchFor(org.accessToken, 'dubois')).toEqual(['zoe.eluard@muller.fr']);
    } finally {
      await owner.end();
    }
  });
});
