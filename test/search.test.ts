// Searching prospects ignores accents and case, and stays on the trigram indexes.
import { describe, expect, it } from 'vitest';
import { positionSearch } from '../subgraphs/crm/resolvers/position.resolver.ts';
import { FindPositionsDocument, IngestPharowDocument } from './generated/graphql.ts';
import { newOrganisation, ok } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';
import { pharowItem } from './helpers/pharow.ts';

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
    // an organisation with a few thousand prospects, and fresh statistics, as after an ingest
    await withClient(ownerClient(), async (c) => {
      await c.query(
        `WITH g AS (SELECT n, gen_random_uuid() AS company, gen_random_uuid() AS person FROM generate_series(1, 2000) n),
         companies AS (INSERT INTO crm.companies (organisation_id, id, name)
           SELECT $1, company, 'Entreprise ' || md5(n::text) FROM g),
         people AS (INSERT INTO crm.people (organisation_id, id, first_name, last_name)
           SELECT $1, person, 'Prénom' || n, md5(n::text) FROM g)
         INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email)
           SELECT $1, gen_random_uuid(), company, person, md5(n::text) || '@exemple.fr' FROM g`,
        [orgId],
      );
      await c.query('VACUUM ANALYZE crm.companies, crm.people, crm.positions');
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
    expect(plan).toMatch(/Bitmap Index Scan on companies_name_unaccent_trgm/);
    expect(plan).toMatch(/Bitmap Index Scan on people_name_unaccent_trgm/);
    expect(plan).toMatch(/Bitmap Index Scan on positions_email_trgm/);
    // the names are found through the indexes, never by reading every company or person
    expect(plan).not.toMatch(/Seq Scan on (companies|people)/);
  });
});
