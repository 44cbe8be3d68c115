// The baseline: what a straightforward ingest does — one item per transaction, one statement at a time,
// look up then INSERT or UPDATE. Same normaliser as the platform, so only the write strategy differs.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { serviceDatabaseUrl } from '../../lib/db/roles.ts';
import {
  type NormalisedCompany,
  type NormalisedItem,
  normalisePharowItem,
} from '../../subgraphs/crm/services/normalise/index.ts';
import type { RawItem } from '../fixtures/pharow-generator.ts';

export interface NaiveCounts {
  created: number;
  updated: number;
}

export interface NaiveOutcome {
  ms: number;
  received: number;
  rejected: number;
  companies: NaiveCounts;
  people: NaiveCounts;
  positions: NaiveCounts;
}

/** A connection as the CRM service's role, so RLS applies exactly as it does for the platform. */
export async function connectAsApp(dbUrl: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: serviceDatabaseUrl(dbUrl, 'crm'),
    connectionTimeoutMillis: 10_000,
    statement_timeout: 30_000,
  });
  await client.connect();
  return client;
}

type Db = pg.Client;

async function one<T extends pg.QueryResultRow>(
  db: Db,
  sql: string,
  params: unknown[],
): Promise<T | undefined> {
  return (await db.query<T>(sql, params)).rows[0];
}

const COMPANY_VALUES = (c: NormalisedCompany) => [
  c.pharowCompanyId,
  c.siren,
  c.hqSiret,
  c.name,
  c.brandName,
  c.linkedinName,
  c.linkedinUrl,
  c.websiteUrl,
  c.domain,
  c.mainPhone,
  c.genericEmail,
  c.nafSector,
  c.nafCode,
  c.activity,
  c.foundingYear,
  c.foundingDate,
  c.growing,
  c.employeeCount,
  c.employeeRange,
  c.employeeMin,
  c.employeeMax,
  c.hqAddress,
  c.annualRevenueEur,
  c.annualRevenueYear,
];

const COMPANY_INSERT = `INSERT INTO crm.companies (organisation_id, id, pharow_company_id, siren, hq_siret, name,
  brand_name, linkedin_name, linkedin_url, website_url, domain, main_phone, generic_email, naf_sector, naf_code,
  activity, founding_year, founding_date, growing, employee_count, employee_range, employee_min, employee_max,
  hq_address, annual_revenue_eur, annual_revenue_year)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
  $23, $24, $25, $26)`;

// Identity keys are filled, never replaced; other columns take any non-empty new value.
const COMPANY_UPDATE = `UPDATE crm.companies SET pharow_company_id = COALESCE(pharow_company_id, $3),
  siren = COALESCE(siren, $4), hq_siret = COALESCE($5, hq_siret), name = COALESCE($6, name),
  brand_name = COALESCE($7, brand_name), linkedin_name = COALESCE($8, linkedin_name),
  linkedin_url = COALESCE($9, linkedin_url), website_url = COALESCE($10, website_url), domain = COALESCE($11, domain),
  main_phone = COALESCE($12, main_phone), generic_email = COALESCE($13, generic_email),
  naf_sector = COALESCE($14, naf_sector), naf_code = COALESCE($15, naf_code), activity = COALESCE($16, activity),
  founding_year = COALESCE($17, founding_year), founding_date = COALESCE($18, founding_date),
  growing = COALESCE($19, growing), employee_count = COALESCE($20, employee_count),
  employee_range = COALESCE($21, employee_range), employee_min = COALESCE($22, employee_min),
  employee_max = COALESCE($23, employee_max), hq_address = COALESCE($24, hq_address),
  annual_revenue_eur = COALESCE($25, annual_revenue_eur), annual_revenue_year = COALESCE($26, annual_revenue_year),
  updated_at = now()
  WHERE organisation_id = $1 AND id = $2`;

async function findCompany(db: Db, org: string, c: NormalisedCompany): Promise<string | undefined> {
  const by = async (where: string, value: unknown) =>
    (
      await one<{ id: string }>(db, `SELECT id FROM crm.companies WHERE organisation_id = $1 AND ${where}`, [
        org,
        value,
      ])
    )?.id;
  if (c.pharowCompanyId) {
    const id = await by('pharow_company_id COLLATE "C" = $2', c.pharowCompanyId);
    if (id) return id;
  }
  if (c.siren) {
    const id = await by('siren COLLATE "C" = $2', c.siren);
    if (id) return id;
  }
  if (c.domain) {
    const id = await by('lower(domain::text) COLLATE "C" = lower($2) LIMIT 1', c.domain);
    if (id) return id;
  }
  if (!c.pharowCompanyId && !c.siren && !c.domain)
    return by('lower(name) COLLATE "C" = lower($2) LIMIT 1', c.name);
  return undefined;
}

async function upsertItem(db: Db, org: string, item: NormalisedItem, out: NaiveOutcome): Promise<void> {
  const { company, person, position } = item;

  let companyId = await findCompany(db, org, company);
  if (companyId) {
    await db.query(COMPANY_UPDATE, [org, companyId, ...COMPANY_VALUES(company)]);
    out.companies.updated++;
  } else {
    companyId = randomUUID();
    await db.query(COMPANY_INSERT, [org, companyId, ...COMPANY_VALUES(company)]);
    out.companies.created++;
  }

  let personId: string | undefined;
  if (person.linkedinUrl) {
    personId = (
      await one<{ id: string }>(
        db,
        'SELECT id FROM crm.people WHERE organisation_id = $1 AND linkedin_url COLLATE "C" = $2',
        [org, person.linkedinUrl],
      )
    )?.id;
  }
  if (!personId && person.nameKey) {
    personId = (
      await one<{ id: string }>(
        db,
        `SELECT p.id FROM crm.people p JOIN crm.positions pos
           ON pos.organisation_id = p.organisation_id AND pos.person_id = p.id
         WHERE p.organisation_id = $1 AND pos.company_id = $2 AND p.name_key = $3 LIMIT 1`,
        [org, companyId, person.nameKey],
      )
    )?.id;
  }
  const personValues = [
    person.firstName,
    person.lastName,
    person.salutation,
    person.linkedinUrl,
    person.mobilePhone,
    person.location,
    person.nameKey,
  ];
  if (personId) {
    await db.query(
      `UPDATE crm.people SET first_name = COALESCE($3, first_name), last_name = COALESCE($4, last_name),
         salutation = COALESCE($5, salutation), linkedin_url = COALESCE($6, linkedin_url),
         mobile_phone = COALESCE($7, mobile_phone), location = COALESCE($8, location),
         name_key = COALESCE($9, name_key), updated_at = now()
       WHERE organisation_id = $1 AND id = $2`,
      [org, personId, ...personValues],
    );
    out.people.updated++;
  } else {
    personId = randomUUID();
    await db.query(
      `INSERT INTO crm.people (organisation_id, id, first_name, last_name, salutation, linkedin_url, mobile_phone,
         location, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [org, personId, ...personValues],
    );
    out.people.created++;
  }

  const existing = await one<{ id: string }>(
    db,
    `SELECT id FROM crm.positions WHERE organisation_id = $1 AND company_id = $2 AND person_id = $3
       AND lower(email::text) COLLATE "C" IS NOT DISTINCT FROM lower($4)`,
    [org, companyId, personId, position.email],
  );
  // UNKNOWN means "no status": it does not overwrite a known one.
  const status = position.emailStatus === 'UNKNOWN' ? null : position.emailStatus;
  if (existing) {
    await db.query(
      `UPDATE crm.positions SET job_title = COALESCE($3, job_title), email_status = COALESCE($4, email_status),
         email_reliability = COALESCE($5, email_reliability), pharow_list_name = COALESCE($6, pharow_list_name),
         updated_at = now()
       WHERE organisation_id = $1 AND id = $2`,
      [org, existing.id, position.jobTitle, status, position.emailReliability, position.pharowListName],
    );
    out.positions.updated++;
  } else {
    await db.query(
      `INSERT INTO crm.positions (organisation_id, id, company_id, person_id, job_title, email, email_status,
         email_reliability, pharow_list_name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        org,
        randomUUID(),
        companyId,
        personId,
        position.jobTitle,
        position.email,
        status ?? 'UNKNOWN',
        position.emailReliability,
        position.pharowListName,
      ],
    );
    out.positions.created++;
  }
}

/** Normalises and writes `items` one by one; the clock covers normalisation and every round trip. */
export async function naiveIngest(db: Db, organisationId: string, items: RawItem[]): Promise<NaiveOutcome> {
  const out: NaiveOutcome = {
    ms: 0,
    received: items.length,
    rejected: 0,
    companies: { created: 0, updated: 0 },
    people: { created: 0, updated: 0 },
    positions: { created: 0, updated: 0 },
  };
  const started = performance.now();
  for (let i = 0; i < items.length; i++) {
    const { item } = normalisePharowItem(items[i], i);
    if (!item) {
      out.rejected++;
      continue;
    }
    await db.query('BEGIN');
    try {
      await db.query("SELECT set_config('app.organisation_id', $1, true)", [organisationId]);
      await upsertItem(db, organisationId, item, out);
      await db.query('COMMIT');
    } catch (error) {
      await db.query('ROLLBACK');
      throw error;
    }
  }
  out.ms = performance.now() - started;
  return out;
}
