// Pharow ingest through the gateway: the contract, normalisation, idempotency, merging, rejections, limits.
import { describe, expect, it } from 'vitest';
import {
  CompanyDetailsDocument,
  CreateApiKeyDocument,
  FindPositionsDocument,
  IngestPharowDocument,
  type PharowItemInput,
} from './generated/graphql.ts';
import { errorCode, gql, newOrganisation, ok } from './helpers/client.ts';
import { ownerClient, withClient, withFailingInsert } from './helpers/db.ts';
import { pharowItem, validSiren } from './helpers/pharow.ts';

type Session = Awaited<ReturnType<typeof newOrganisation>>;

const ingest = (org: Session, data: PharowItemInput[]) =>
  ok(IngestPharowDocument, { input: { version: 'V2', data } }, { token: org.accessToken });

async function companyIdBy(org: Session, pharowCompanyId: string): Promise<string> {
  return withClient(ownerClient(), async (c) => {
    const { rows } = await c.query(
      'SELECT id FROM crm.companies WHERE organisation_id = $1 AND pharow_company_id = $2',
      [org.organisation.id, pharowCompanyId],
    );
    expect(rows).toHaveLength(1);
    return rows[0].id as string;
  });
}

async function tableCounts(organisationId: string) {
  return withClient(ownerClient(), async (c) => {
    const counts: Record<string, number> = {};
    for (const table of ['companies', 'people', 'positions']) {
      const { rows } = await c.query(
        `SELECT count(*)::int AS n FROM crm.${table} WHERE organisation_id = $1`,
        [organisationId],
      );
      counts[table] = rows[0].n;
    }
    return counts;
  });
}

describe('ingestPharow', () => {
  it('stores a batch, reports counts, and resolves companies, people and positions through the graph', async () => {
    const org = await newOrganisation();
    const shared = pharowItem();
    const colleague = pharowItem({
      company: shared.company,
      person: { personFirstName: 'Zoé', personLastName: 'Nguyễn', personLinkedinUrl: null },
      position: { positionEmail: 'zoe.nguyen@example.fr', positionEmailStatus: 'catch-all' },
    });
    const other = pharowItem();
    const { ingestPharow } = await ingest(org, [shared, colleague, other]);
    expect(ingestPharow).toEqual({
      received: 3,
      companies: { created: 2, updated: 0, unchanged: 0 },
      people: { created: 3, updated: 0, unchanged: 0 },
      positions: { created: 3, updated: 0, unchanged: 0 },
      rejected: [],
    });
    const companyId = await companyIdBy(org, shared.company.pharowCompanyId!);
    const { company } = await ok(CompanyDetailsDocument, { id: companyId }, { token: org.accessToken });
    expect(company?.positions.map((p) => p.person.fullName).sort()).toEqual(
      [`Élodie ${shared.person.personLastName}`, 'Zoé Nguyễn'].sort(),
    );
    const zoe = company?.positions.find((p) => p.person.firstName === 'Zoé');
    expect(zoe).toMatchObject({ email: 'zoe.nguyen@example.fr', emailStatus: 'RISKY', suppressed: false });
  });

  it('stores an item without an email status as UNKNOWN, which a later status replaces and a later blank keeps', async () => {
    const org = await newOrganisation();
    const item = pharowItem({ position: { positionEmailStatus: null } });
    const statuses = () =>
      withClient(ownerClient(), async (c) => {
        const { rows } = await c.query('SELECT email_status FROM crm.positions WHERE organisation_id = $1', [
          org.organisation.id,
        ]);
        return rows.map((r) => r.email_status);
      });
    await ingest(org, [item]);
    expect(await statuses()).toEqual(['UNKNOWN']);
    await ingest(org, [{ ...item, position: { ...item.position, positionEmailStatus: 'valid' } }]);
    expect(await statuses()).toEqual(['VALID']);
    await ingest(org, [item]);
    expect(await statuses()).toEqual(['VALID']);
  });

  it('is idempotent: the same batch again changes nothing and reports everything unchanged', async () => {
    const org = await newOrganisation();
    const items = [pharowItem(), pharowItem(), pharowItem()];
    await ingest(org, items);
    const before = await tableCounts(org.organisation.id);
    const { ingestPharow } = await ingest(org, items);
    expect(ingestPharow.companies).toEqual({ created: 0, updated: 0, unchanged: 3 });
    expect(ingestPharow.people).toEqual({ created: 0, updated: 0, unchanged: 3 });
    expect(ingestPharow.positions).toEqual({ created: 0, updated: 0, unchanged: 3 });
    expect(await tableCounts(org.organisation.id)).toEqual(before);
  });

  it('fills empty fields and updates changed ones, but never blanks a known value', async () => {
    const org = await newOrganisation();
    const first = pharowItem({ company: { companyMainPhone: '01 23 45 67 89', companyNafCode: null } });
    await ingest(org, [first]);
    const later: PharowItemInput = {
      company: {
        pharowCompanyId: first.company.pharowCompanyId,
        companyName: first.company.companyName,
        companyMainPhone: '', // empty: keep the known phone
        companyUrl: null,
        companyNafCode: '6201Z', // was empty: fill
        companyNbEmployees: '60', // changed
      },
      person: {
        personLinkedinUrl: first.person.personLinkedinUrl,
        personFirstName: '',
        personMobilePhone: '06 12 34 56 78',
      },
      position: {
        positionEmail: first.position.positionEmail,
        positionEmailStatus: '',
        positionJobTitle: 'CEO',
      },
    };
    const { ingestPharow } = await ingest(org, [later]);
    expect(ingestPharow.companies).toEqual({ created: 0, updated: 1, unchanged: 0 });
    expect(ingestPharow.people).toEqual({ created: 0, updated: 1, unchanged: 0 });
    expect(ingestPharow.positions).toEqual({ created: 0, updated: 1, unchanged: 0 });
    const { company } = await ok(
      CompanyDetailsDocument,
      { id: await companyIdBy(org, first.company.pharowCompanyId!) },
      { token: org.accessToken },
    );
    expect(company).toMatchObject({
      mainPhone: '+33123456789',
      nafCode: '62.01Z',
      websiteUrl: first.company.companyUrl,
      employeeCount: 60,
    });
    expect(company?.positions).toHaveLength(1);
    expect(company?.positions[0]).toMatchObject({
      jobTitle: 'CEO',
      emailStatus: 'VALID',
      emailReliability: 95,
    });
    expect(company?.positions[0].person).toMatchObject({ firstName: 'Élodie', mobilePhone: '+33612345678' });
  });

  it('merges duplicates inside one batch', async () => {
    const org = await newOrganisation();
    const a = pharowItem({ company: { companyMainPhone: null } });
    const again = { ...a, company: { ...a.company, companyMainPhone: '+33 1 40 00 00 00' } };
    const sameCompanyBySiren = pharowItem({
      company: {
        pharowCompanyId: null,
        companySiren: a.company.companySiren,
        companyName: a.company.companyName,
      },
    });
    const { ingestPharow } = await ingest(org, [a, again, sameCompanyBySiren]);
    expect(ingestPharow.companies).toEqual({ created: 1, updated: 0, unchanged: 0 });
    expect(ingestPharow.people).toEqual({ created: 2, updated: 0, unchanged: 0 });
    expect(ingestPharow.positions).toEqual({ created: 2, updated: 0, unchanged: 0 });
    const { company } = await ok(
      CompanyDetailsDocument,
      { id: await companyIdBy(org, a.company.pharowCompanyId!) },
      { token: org.accessToken },
    );
    expect(company?.mainPhone).toBe('+33140000000');
  });

  it('matches a company by SIREN, then by domain, and a person by name at the same company', async () => {
    const org = await newOrganisation();
    const base = pharowItem({ person: { personLinkedinUrl: null } });
    await ingest(org, [base]);
    const bySiren = pharowItem({
      company: { pharowCompanyId: null, companySiren: base.company.companySiren, companyUrl: null },
    });
    const byDomain = pharowItem({
      company: {
        pharowCompanyId: null,
        companySiren: null,
        companyUrl: `${base.company.companyUrl}/contact?utm_source=x`,
      },
    });
    const samePersonByName = {
      company: { ...base.company },
      person: {
        personFirstName: ' élodie ',
        personLastName: base.person.personLastName!.toUpperCase(),
        personLocation: 'Lyon',
      },
      position: { ...base.position },
    };
    const { ingestPharow } = await ingest(org, [bySiren, byDomain, samePersonByName]);
    // all three land on the one stored company (its name follows the latest batch)
    expect(ingestPharow.companies).toEqual({ created: 0, updated: 1, unchanged: 0 });
    expect(ingestPharow.people).toEqual({ created: 2, updated: 1, unchanged: 0 });
    expect(await tableCounts(org.organisation.id)).toEqual({ companies: 1, people: 3, positions: 3 });
  });

  it('matches a stored domain, name and email whatever their case, and never stores one position twice', async () => {
    const org = await newOrganisation();
    const noIds = { pharowCompanyId: null, companySiren: null, companyHqSiret: null };
    const byDomain = pharowItem({ company: { ...noIds, companyUrl: 'https://www.exemple-casse.fr' } });
    const byName = pharowItem({ company: { ...noIds, companyName: 'Maison Dupré', companyUrl: null } });
    byName.position.positionEmail = 'jean.dupre@gmail.com';
    await ingest(org, [byDomain, byName]);
    await withClient(ownerClient(), (c) =>
      c.query(
        "UPDATE crm.companies SET domain = 'Exemple-Casse.FR' WHERE organisation_id = $1 AND domain IS NOT NULL",
        [org.organisation.id],
      ),
    );
    const again = await ingest(org, [
      { ...byDomain, company: { ...byDomain.company, companyUrl: 'https://exemple-casse.fr/' } },
      { ...byName, company: { ...byName.company, companyName: 'MAISON DUPRÉ' } },
    ]);
    expect(again.ingestPharow.companies.created).toBe(0);
    expect(await tableCounts(org.organisation.id)).toMatchObject({ companies: 2, positions: 2 });
    // the database itself refuses the same position with the email in another case
    const duplicate = withClient(ownerClient(), (c) =>
      c.query(
        `INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email)
         SELECT organisation_id, gen_random_uuid(), company_id, person_id, upper(email::text)
         FROM crm.positions WHERE organisation_id = $1 LIMIT 1`,
        [org.organisation.id],
      ),
    );
    await expect(duplicate).rejects.toThrow(/positions_identity/);
  });

  it('normalises what Pharow sends as strings', async () => {
    const org = await newOrganisation();
    const siren = validSiren();
    const item = pharowItem({
      company: {
        companySiren: `${siren.slice(0, 3)} ${siren.slice(3, 6)} ${siren.slice(6)}`,
        companyUrl: 'HTTP://WWW.Exemple-Normal.FR/accueil/?utm_source=pharow&gclid=abc#top',
        companyLinkedinUrl: 'fr.linkedin.com/company/Exemple-Normal/',
        companyMainPhone: '01 44 55 66 77',
        companyEmployeeRangeCorrected: '50 - 99',
        companyNbEmployees: null,
        companyAnnualRevenueEuros: '1 250 000',
        companyFoundingYear: '2015',
        companyGrowing: 'true',
      },
      person: {
        personLinkedinUrl: 'https://linkedin.com/in/Jean-Dupont-123?trk=abc',
        personMobilePhone: '06.12.34.56.78',
      },
      position: {
        positionEmail: '  Jean.DUPONT@Exemple-Normal.FR ',
        positionEmailStatus: 'VALID',
        positionEmailReliability: '87 %',
      },
    });
    await ingest(org, [item]);
    const { company } = await ok(
      CompanyDetailsDocument,
      { id: await companyIdBy(org, item.company.pharowCompanyId!) },
      { token: org.accessToken },
    );
    expect(company).toMatchObject({
      siren,
      websiteUrl: 'http://www.exemple-normal.fr/accueil',
      domain: 'exemple-normal.fr',
      linkedinUrl: 'https://www.linkedin.com/company/exemple-normal',
      mainPhone: '+33144556677',
      employeeRange: '50-99',
      employeeMin: 50,
      employeeMax: 99,
      annualRevenueEur: 1250000,
      foundingYear: 2015,
    });
    expect(company?.positions[0]).toMatchObject({
      email: 'jean.dupont@exemple-normal.fr',
      emailStatus: 'VALID',
      emailReliability: 87,
    });
    expect(company?.positions[0].person).toMatchObject({
      linkedinUrl: 'https://www.linkedin.com/in/jean-dupont-123',
      mobilePhone: '+33612345678',
    });
  });

  it('derives the domain from a non-free-mail email when there is no website', async () => {
    const org = await newOrganisation();
    const free = pharowItem({
      company: { companyUrl: null },
      position: { positionEmail: 'someone@gmail.com' },
    });
    const pro = pharowItem({
      company: { companyUrl: null },
      position: { positionEmail: 'marc@atelier-lumiere.fr' },
    });
    await ingest(org, [free, pro]);
    const [freeCo, proCo] = await Promise.all(
      [free, pro].map(
        async (i) =>
          (
            await ok(
              CompanyDetailsDocument,
              { id: await companyIdBy(org, i.company.pharowCompanyId!) },
              { token: org.accessToken },
            )
          ).company,
      ),
    );
    expect(freeCo?.domain).toBeNull();
    expect(proCo?.domain).toBe('atelier-lumiere.fr');
  });

  it('reports bad items with index, field and message, and stores the rest', async () => {
    const org = await newOrganisation();
    const items = [
      pharowItem(),
      pharowItem({ position: { positionEmail: 'jean.dupont@@example.fr' } }),
      pharowItem({ company: { companySiren: '123456789' } }),
      pharowItem({ company: { companyName: '   ' } }),
      pharowItem({ person: { personFirstName: null, personLastName: null, personLinkedinUrl: null } }),
      pharowItem(),
    ];
    const { ingestPharow } = await ingest(org, items);
    expect(ingestPharow.rejected.map((r) => [r.index, r.field])).toEqual([
      [1, 'position.positionEmail'],
      [2, 'company.companySiren'],
      [3, 'company.companyName'],
      [4, 'person'],
    ]);
    expect(ingestPharow.rejected.every((r) => r.message.length > 5)).toBe(true);
    expect(ingestPharow.positions.created).toBe(2);
    expect((await tableCounts(org.organisation.id)).positions).toBe(2);
  });

  it('refuses more than 10,000 items with BAD_USER_INPUT and stores nothing', async () => {
    const org = await newOrganisation();
    const tiny = (i: number): PharowItemInput => ({
      company: { companyName: `C${i}` },
      person: { personFirstName: `P${i}` },
      position: {},
    });
    const res = await gql(
      IngestPharowDocument,
      { input: { data: Array.from({ length: 10_001 }, (_, i) => tiny(i)) } },
      { token: org.accessToken },
    );
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0].message).toMatch(/10000/);
    expect(await tableCounts(org.organisation.id)).toEqual({ companies: 0, people: 0, positions: 0 });
  });

  it('stores nothing when a write fails half-way, and the caller gets an error to retry', async () => {
    const org = await newOrganisation();
    await withFailingInsert('crm.positions', 'job_title', async (marker) => {
      const items = [pharowItem(), pharowItem({ position: { positionJobTitle: marker } }), pharowItem()];
      const res = await gql(IngestPharowDocument, { input: { data: items } }, { token: org.accessToken });
      expect(errorCode(res)).toBe('INTERNAL_SERVER_ERROR');
      expect(JSON.stringify(res.errors)).not.toMatch(/simulated|INSERT|crm\./);
      expect(await tableCounts(org.organisation.id)).toEqual({ companies: 0, people: 0, positions: 0 });
    });
  });

  // the companies and the people are written while the next table is planned: a failure there too
  for (const [table, column, item] of [
    ['crm.companies', 'name', (marker: string) => pharowItem({ company: { companyName: marker } })],
    ['crm.people', 'last_name', (marker: string) => pharowItem({ person: { personLastName: marker } })],
  ] as const) {
    it(`stores nothing when the ${table} write fails while the next table is planned`, async () => {
      const org = await newOrganisation();
      await withFailingInsert(table, column, async (marker) => {
        const items = [...Array.from({ length: 200 }, () => pharowItem()), item(marker)];
        const res = await gql(IngestPharowDocument, { input: { data: items } }, { token: org.accessToken });
        expect(errorCode(res)).toBe('INTERNAL_SERVER_ERROR');
        expect(JSON.stringify(res.errors)).not.toMatch(/simulated|INSERT|crm\./);
        expect(await tableCounts(org.organisation.id)).toEqual({ companies: 0, people: 0, positions: 0 });
        // the organisation can ingest again at once: nothing was left running or locked
        const { ingestPharow } = await ingest(org, [pharowItem()]);
        expect(ingestPharow.positions.created).toBe(1);
      });
    });
  }

  it('never matches or updates another organisation data', async () => {
    const a = await newOrganisation();
    const b = await newOrganisation();
    const item = pharowItem();
    await ingest(a, [item]);
    const changed = { ...item, company: { ...item.company, companyName: 'Renamed by B' } };
    const { ingestPharow } = await ingest(b, [changed]);
    expect(ingestPharow.companies).toEqual({ created: 1, updated: 0, unchanged: 0 });
    const { company } = await ok(
      CompanyDetailsDocument,
      { id: await companyIdBy(a, item.company.pharowCompanyId!) },
      { token: a.accessToken },
    );
    expect(company?.name).toBe(item.company.companyName);
  });

  it('lets an INGEST API key call the mutation, but not a READ-only key', async () => {
    const org = await newOrganisation();
    const ingestKey = await ok(
      CreateApiKeyDocument,
      { name: 'pharow', scopes: ['INGEST'] },
      { token: org.accessToken },
    );
    const readKey = await ok(
      CreateApiKeyDocument,
      { name: 'bi', scopes: ['READ'] },
      { token: org.accessToken },
    );
    const data = [pharowItem()];
    const okRes = await gql(
      IngestPharowDocument,
      { input: { data } },
      { token: ingestKey.createApiKey.secret },
    );
    expect(okRes.data?.ingestPharow.positions.created).toBe(1);
    const denied = await gql(
      IngestPharowDocument,
      { input: { data } },
      { token: readKey.createApiKey.secret },
    );
    expect(errorCode(denied)).toBe('FORBIDDEN');
  });
});

describe('positions listing', () => {
  it('pages with cursors and filters by search, company and email status', async () => {
    const org = await newOrganisation();
    const shared = pharowItem({ company: { companyName: 'Boulangerie Artisanale Dupain' } });
    const items = [
      shared,
      pharowItem({
        company: shared.company,
        person: { personLastName: 'Ferrand', personLinkedinUrl: null },
        position: { positionEmailStatus: 'invalid', positionEmail: 'x.ferrand@dupain.fr' },
      }),
      ...Array.from({ length: 5 }, () => pharowItem()),
    ];
    await ingest(org, items);
    const page1 = await ok(FindPositionsDocument, { first: 3 }, { token: org.accessToken });
    expect(page1.positions.totalCount).toBe(7);
    expect(page1.positions.edges).toHaveLength(3);
    expect(page1.positions.pageInfo.hasNextPage).toBe(true);
    const page2 = await ok(
      FindPositionsDocument,
      { first: 3, after: page1.positions.pageInfo.endCursor },
      { token: org.accessToken },
    );
    const page3 = await ok(
      FindPositionsDocument,
      { first: 3, after: page2.positions.pageInfo.endCursor },
      { token: org.accessToken },
    );
    expect(page3.positions.edges).toHaveLength(1);
    expect(page3.positions.pageInfo.hasNextPage).toBe(false);
    const ids = [...page1.positions.edges, ...page2.positions.edges, ...page3.positions.edges].map(
      (e) => e.node.id,
    );
    expect(new Set(ids).size).toBe(7);

    const byCompanyName = await ok(
      FindPositionsDocument,
      { filter: { search: 'artisanale' } },
      { token: org.accessToken },
    );
    expect(byCompanyName.positions.totalCount).toBe(2);
    const byName = await ok(
      FindPositionsDocument,
      { filter: { search: 'ferrand' } },
      { token: org.accessToken },
    );
    expect(byName.positions.edges.map((e) => e.node.email)).toEqual(['x.ferrand@dupain.fr']);
    const byEmail = await ok(
      FindPositionsDocument,
      { filter: { search: 'X.FERRAND@' } },
      { token: org.accessToken },
    );
    expect(byEmail.positions.totalCount).toBe(1);
    const companyId = byName.positions.edges[0].node.company.id;
    const invalidAtCompany = await ok(
      FindPositionsDocument,
      { filter: { companyId, emailStatus: ['INVALID'] } },
      { token: org.accessToken },
    );
    expect(invalidAtCompany.positions.edges.map((e) => e.node.person.fullName)).toEqual([`Élodie Ferrand`]);
    const wildcard = await ok(FindPositionsDocument, { filter: { search: '%' } }, { token: org.accessToken });
    expect(wildcard.positions.totalCount).toBe(0);
    expect(
      errorCode(await gql(FindPositionsDocument, { after: 'garbage' }, { token: org.accessToken })),
    ).toBe('BAD_USER_INPUT');
    expect(errorCode(await gql(FindPositionsDocument, { first: 0 }, { token: org.accessToken }))).toBe(
      'BAD_USER_INPUT',
    );
  });
});
