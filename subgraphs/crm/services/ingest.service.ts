// Pharow ingest: normalise, merge duplicates within the batch, match what the organisation already has,
// and write only what is new or changed — all in the caller's transaction, so a failure stores nothing.
import { randomUUID } from 'node:crypto';
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';
import { badInput } from '../../../lib/errors.ts';
import { type ColumnSpec, upsertRows } from './bulk-upsert.ts';
import {
  type NormalisedCompany,
  type NormalisedItem,
  type NormalisedPerson,
  type NormalisedPosition,
  normalisePharowItem,
  type Rejection,
} from './normalise/index.ts';

export interface UpsertCounts {
  created: number;
  updated: number;
  unchanged: number;
}

export interface IngestOutcome {
  received: number;
  companies: UpsertCounts;
  people: UpsertCounts;
  positions: UpsertCounts;
  rejected: Rejection[];
}

type CompanyRow = NormalisedCompany & { id: string };
type PersonRow = Omit<NormalisedPerson, never> & { id: string };
type PositionRow = NormalisedPosition & { id: string; companyId: string; personId: string };

// A company's identity keys never change once known (a different SIREN is a different company): fill only.
const COMPANY_IDENTITY: (keyof NormalisedCompany)[] = ['pharowCompanyId', 'siren'];

const COMPANY_FIELDS: [string, string, keyof CompanyRow][] = [
  ['pharow_company_id', 'text', 'pharowCompanyId'],
  ['siren', 'text', 'siren'],
  ['hq_siret', 'text', 'hqSiret'],
  ['name', 'text', 'name'],
  ['brand_name', 'text', 'brandName'],
  ['linkedin_name', 'text', 'linkedinName'],
  ['linkedin_url', 'text', 'linkedinUrl'],
  ['website_url', 'text', 'websiteUrl'],
  ['domain', 'citext', 'domain'],
  ['main_phone', 'text', 'mainPhone'],
  ['generic_email', 'citext', 'genericEmail'],
  ['naf_sector', 'text', 'nafSector'],
  ['naf_code', 'text', 'nafCode'],
  ['activity', 'text', 'activity'],
  ['founding_year', 'int', 'foundingYear'],
  ['founding_date', 'date', 'foundingDate'],
  ['growing', 'boolean', 'growing'],
  ['employee_count', 'int', 'employeeCount'],
  ['employee_range', 'text', 'employeeRange'],
  ['employee_min', 'int', 'employeeMin'],
  ['employee_max', 'int', 'employeeMax'],
  ['hq_address', 'text', 'hqAddress'],
  ['annual_revenue_eur', 'bigint', 'annualRevenueEur'],
  ['annual_revenue_year', 'int', 'annualRevenueYear'],
];
const COMPANY_COLUMNS: ColumnSpec<CompanyRow>[] = COMPANY_FIELDS.map(([column, type, key]) => ({
  column,
  type,
  value: (r) => r[key],
}));
const COMPANY_KEYS = COMPANY_FIELDS.map(([, , key]) => key);

const PERSON_COLUMNS: ColumnSpec<PersonRow>[] = [
  ['first_name', 'text', 'firstName'],
  ['last_name', 'text', 'lastName'],
  ['salutation', 'text', 'salutation'],
  ['linkedin_url', 'text', 'linkedinUrl'],
  ['mobile_phone', 'text', 'mobilePhone'],
  ['location', 'text', 'location'],
  ['name_key', 'text', 'nameKey'],
].map(([column, type, key]) => ({ column, type, value: (r: PersonRow) => r[key as keyof PersonRow] }));

const POSITION_COLUMNS: ColumnSpec<PositionRow>[] = [
  ['company_id', 'uuid', 'companyId'],
  ['person_id', 'uuid', 'personId'],
  ['job_title', 'text', 'jobTitle'],
  ['email', 'citext', 'email'],
  ['email_status', 'text', 'emailStatus'],
  ['email_reliability', 'smallint', 'emailReliability'],
  ['pharow_list_name', 'text', 'pharowListName'],
].map(([column, type, key]) => ({ column, type, value: (r: PositionRow) => r[key as keyof PositionRow] }));

/** New non-empty values win; an empty value never blanks a known one; `fillOnly` keys are never replaced. */
function mergeValues<T extends object>(base: T, incoming: T, fillOnly: (keyof T)[] = []): T {
  const out = { ...base };
  for (const key of Object.keys(incoming) as (keyof T)[]) {
    const value = incoming[key];
    if (value === null || value === undefined) continue;
    if (fillOnly.includes(key) && out[key] !== null && out[key] !== undefined) continue;
    out[key] = value;
  }
  return out;
}

function differs<T extends object>(before: T, after: T, keys: (keyof T)[]): boolean {
  return keys.some((k) => normaliseForCompare(before[k]) !== normaliseForCompare(after[k]));
}

function normaliseForCompare(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  if (typeof value === 'string') return value;
  return String(value);
}

/**
 * Pharow id and SIREN identify a company outright. A shared domain (or name) only does when no stronger
 * identifier says otherwise: two legal entities can share a website.
 */
function companiesCompatible(
  a: Partial<NormalisedCompany>,
  b: Partial<NormalisedCompany>,
  key: string,
): boolean {
  if (key.startsWith('p:') || key.startsWith('s:')) return true;
  if (a.pharowCompanyId && b.pharowCompanyId && a.pharowCompanyId !== b.pharowCompanyId) return false;
  if (a.siren && b.siren && a.siren !== b.siren) return false;
  return true;
}

function companyKeys(c: Partial<NormalisedCompany>): string[] {
  const keys: string[] = [];
  if (c.pharowCompanyId) keys.push(`p:${c.pharowCompanyId}`);
  if (c.siren) keys.push(`s:${c.siren}`);
  if (c.domain) keys.push(`d:${c.domain.toLowerCase()}`);
  // last resort for companies without any identifier, so that re-sending them stays idempotent
  if (keys.length === 0 && c.name) keys.push(`n:${c.name.toLowerCase()}`);
  return keys;
}

interface Group<T> {
  value: T;
  items: NormalisedItem[];
}

/** Merges records that share a key (in key priority order), keeping incompatible ones apart. */
function groupBy<T extends object>(
  records: { value: T; item: NormalisedItem }[],
  keysOf: (value: T) => string[],
  compatible: (a: T, b: T, key: string) => boolean,
  fillOnly: (keyof T)[] = [],
): Group<T>[] {
  const groups: Group<T>[] = [];
  const byKey = new Map<string, Group<T>>();
  for (const { value, item } of records) {
    let group: Group<T> | undefined;
    for (const key of keysOf(value)) {
      const candidate = byKey.get(key);
      if (candidate && compatible(candidate.value, value, key)) {
        group = candidate;
        break;
      }
    }
    if (group) {
      group.value = mergeValues(group.value, value, fillOnly);
      group.items.push(item);
    } else {
      group = { value, items: [item] };
      groups.push(group);
    }
    for (const key of keysOf(group.value)) if (!byKey.has(key)) byKey.set(key, group);
  }
  return groups;
}

interface Resolved<Row> {
  row: Row;
  state: 'created' | 'updated' | 'unchanged';
}

function count<Row>(resolved: Resolved<Row>[]): UpsertCounts {
  const counts = { created: 0, updated: 0, unchanged: 0 };
  for (const r of resolved) counts[r.state]++;
  return counts;
}

const DB_COMPANY_FIELDS = `id, pharow_company_id AS "pharowCompanyId", siren, hq_siret AS "hqSiret", name,
  brand_name AS "brandName", linkedin_name AS "linkedinName", linkedin_url AS "linkedinUrl", website_url AS "websiteUrl",
  domain::text AS domain, main_phone AS "mainPhone", generic_email::text AS "genericEmail", naf_sector AS "nafSector",
  naf_code AS "nafCode", activity, founding_year AS "foundingYear", to_char(founding_date, 'YYYY-MM-DD') AS "foundingDate",
  growing, employee_count AS "employeeCount", employee_range AS "employeeRange", employee_min AS "employeeMin",
  employee_max AS "employeeMax", hq_address AS "hqAddress", annual_revenue_eur::float8 AS "annualRevenueEur",
  annual_revenue_year AS "annualRevenueYear"`;

const PERSON_KEYS: (keyof PersonRow)[] = [
  'firstName',
  'lastName',
  'salutation',
  'linkedinUrl',
  'mobilePhone',
  'location',
  'nameKey',
];
const POSITION_KEYS: (keyof PositionRow)[] = [
  'jobTitle',
  'email',
  'emailStatus',
  'emailReliability',
  'pharowListName',
];

async function resolveCompanies(em: EntityManager, organisationId: string, items: NormalisedItem[]) {
  const groups = groupBy(
    items.map((item) => ({ value: item.company, item })),
    companyKeys,
    companiesCompatible,
    COMPANY_IDENTITY,
  );
  const keys = groups.flatMap((g) => companyKeys(g.value));
  const pick = (prefix: string) => keys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(2));
  const existing = await rawQuery<CompanyRow>(
    em,
    `SELECT ${DB_COMPANY_FIELDS} FROM crm.companies
     WHERE organisation_id = ? AND (pharow_company_id = ANY(?::text[]) OR siren = ANY(?::text[])
       OR domain = ANY(?::citext[]) OR lower(name) = ANY(?::text[]))`,
    [organisationId, pick('p:'), pick('s:'), pick('d:'), pick('n:')],
  );
  const existingByKey = new Map<string, CompanyRow>();
  for (const row of existing) {
    for (const key of companyKeys(row)) if (!existingByKey.has(key)) existingByKey.set(key, row);
    existingByKey.set(`n:${row.name.toLowerCase()}`, existingByKey.get(`n:${row.name.toLowerCase()}`) ?? row);
  }
  // Several batch groups can land on one stored company: merge them there.
  const byStoredId = new Map<string, { stored: CompanyRow; groups: Group<NormalisedCompany>[] }>();
  const fresh: Group<NormalisedCompany>[] = [];
  for (const group of groups) {
    const stored = companyKeys(group.value)
      .map((k) => [k, existingByKey.get(k)] as const)
      .find(([k, row]) => row && companiesCompatible(row, group.value, k))?.[1];
    if (!stored) {
      fresh.push(group);
      continue;
    }
    const entry = byStoredId.get(stored.id) ?? { stored, groups: [] };
    entry.groups.push(group);
    byStoredId.set(stored.id, entry);
  }
  const idOfItem = new Map<NormalisedItem, string>();
  const resolved: Resolved<CompanyRow>[] = [];
  for (const group of fresh) {
    const row = { ...group.value, id: randomUUID() };
    resolved.push({ row, state: 'created' });
    for (const item of group.items) idOfItem.set(item, row.id);
  }
  for (const { stored, groups: matched } of byStoredId.values()) {
    let row: CompanyRow = stored;
    for (const group of matched)
      row = { ...mergeValues(row, group.value as CompanyRow, COMPANY_IDENTITY), id: stored.id };
    resolved.push({ row, state: differs(stored, row, COMPANY_KEYS) ? 'updated' : 'unchanged' });
    for (const group of matched) for (const item of group.items) idOfItem.set(item, stored.id);
  }
  return { resolved, idOfItem };
}

interface StoredPeople {
  /** a stored person under each of its keys (LinkedIn URL, and name at each company it has a position at) */
  byKey: Map<string, PersonRow>;
  /** stored positions by "companyId|personId" */
  positionsByPair: Map<string, PositionRow[]>;
}

function personKeys(
  p: { linkedinUrl: string | null; nameKey: string | null },
  companyId: string | null,
): string[] {
  const keys: string[] = [];
  if (p.linkedinUrl) keys.push(`l:${p.linkedinUrl}`);
  if (p.nameKey && companyId) keys.push(`n:${p.nameKey}|${companyId}`);
  return keys;
}

/** Two queries: everyone with a position at these companies (with those positions), and people by LinkedIn URL. */
async function loadStoredPeople(
  em: EntityManager,
  organisationId: string,
  companyIds: string[],
  linkedinUrls: string[],
): Promise<StoredPeople> {
  const personFields = `p.id, p.first_name AS "firstName", p.last_name AS "lastName", p.salutation,
    p.linkedin_url AS "linkedinUrl", p.mobile_phone AS "mobilePhone", p.location, p.name_key AS "nameKey"`;
  const atCompanies = await rawQuery<
    PersonRow & { positionId: string; companyId: string } & Omit<PositionRow, 'id' | 'personId'>
  >(
    em,
    `SELECT ${personFields}, pos.id AS "positionId", pos.company_id AS "companyId", pos.job_title AS "jobTitle",
            pos.email::text AS email, pos.email_status AS "emailStatus", pos.email_reliability AS "emailReliability",
            pos.pharow_list_name AS "pharowListName"
     FROM crm.positions pos JOIN crm.people p ON p.organisation_id = pos.organisation_id AND p.id = pos.person_id
     WHERE pos.organisation_id = ? AND pos.company_id = ANY(?::uuid[])`,
    [organisationId, companyIds],
  );
  const byLinkedin = linkedinUrls.length
    ? await rawQuery<PersonRow>(
        em,
        `SELECT ${personFields} FROM crm.people p WHERE p.organisation_id = ? AND p.linkedin_url = ANY(?::text[])`,
        [organisationId, linkedinUrls],
      )
    : [];
  const byKey = new Map<string, PersonRow>();
  const positionsByPair = new Map<string, PositionRow[]>();
  const pick = (r: PersonRow): PersonRow => ({
    id: r.id,
    firstName: r.firstName,
    lastName: r.lastName,
    salutation: r.salutation,
    linkedinUrl: r.linkedinUrl,
    mobilePhone: r.mobilePhone,
    location: r.location,
    nameKey: r.nameKey,
  });
  for (const r of atCompanies) {
    const person = byKey.get(`i:${r.id}`) ?? pick(r);
    byKey.set(`i:${r.id}`, person);
    for (const key of personKeys(person, r.companyId)) if (!byKey.has(key)) byKey.set(key, person);
    const pair = `${r.companyId}|${r.id}`;
    const position: PositionRow = {
      id: r.positionId,
      companyId: r.companyId,
      personId: r.id,
      jobTitle: r.jobTitle,
      email: r.email,
      emailStatus: r.emailStatus,
      emailReliability: r.emailReliability,
      pharowListName: r.pharowListName,
    };
    positionsByPair.set(pair, [...(positionsByPair.get(pair) ?? []), position]);
  }
  for (const r of byLinkedin) {
    const person = byKey.get(`i:${r.id}`) ?? pick(r);
    byKey.set(`i:${r.id}`, person);
    if (person.linkedinUrl && !byKey.has(`l:${person.linkedinUrl}`))
      byKey.set(`l:${person.linkedinUrl}`, person);
  }
  return { byKey, positionsByPair };
}

function resolvePeople(
  items: NormalisedItem[],
  companyOf: Map<NormalisedItem, string>,
  stored: StoredPeople,
) {
  type Candidate = NormalisedPerson & { companyId: string };
  const keysOf = (p: Candidate) => personKeys(p, p.companyId);
  // a name match at the same company is vetoed by two different LinkedIn profiles
  const compatible = (a: NormalisedPerson, b: NormalisedPerson, _key?: string) =>
    !(a.linkedinUrl && b.linkedinUrl && a.linkedinUrl !== b.linkedinUrl);
  const groups = groupBy(
    items.map((item) => ({ value: { ...item.person, companyId: companyOf.get(item)! }, item })),
    keysOf,
    compatible,
  );
  const byStoredId = new Map<string, { stored: PersonRow; groups: Group<Candidate>[] }>();
  const idOfItem = new Map<NormalisedItem, string>();
  const resolved: Resolved<PersonRow>[] = [];
  for (const group of groups) {
    const match = keysOf(group.value)
      .map((k) => stored.byKey.get(k))
      .find((row) => row && compatible(row, group.value));
    if (!match) {
      const { companyId: _, ...person } = group.value;
      const row = { ...person, id: randomUUID() };
      resolved.push({ row, state: 'created' });
      for (const item of group.items) idOfItem.set(item, row.id);
      continue;
    }
    const entry = byStoredId.get(match.id) ?? { stored: match, groups: [] };
    entry.groups.push(group);
    byStoredId.set(match.id, entry);
  }
  for (const { stored: base, groups: matched } of byStoredId.values()) {
    let row: PersonRow = base;
    for (const group of matched) {
      const { companyId: _, ...person } = group.value;
      row = { ...mergeValues(row, person as PersonRow), id: base.id };
    }
    resolved.push({ row, state: differs(base, row, PERSON_KEYS) ? 'updated' : 'unchanged' });
    for (const group of matched) for (const item of group.items) idOfItem.set(item, base.id);
  }
  return { resolved, idOfItem };
}

function resolvePositions(
  items: NormalisedItem[],
  companyOf: Map<NormalisedItem, string>,
  personOf: Map<NormalisedItem, string>,
  stored: StoredPeople,
) {
  const pairOf = (item: NormalisedItem) => `${companyOf.get(item)}|${personOf.get(item)}`;
  // UNKNOWN is "no status": it must not overwrite a known one
  const groups = groupBy(
    items.map((item) => ({
      value: {
        ...item.position,
        emailStatus: item.position.emailStatus === 'UNKNOWN' ? null : item.position.emailStatus,
        pair: pairOf(item),
      },
      item,
    })),
    (p) => [`${p.pair}|${p.email ?? ''}`],
    () => true,
  );
  const resolved: Resolved<PositionRow>[] = [];
  const claimed = new Map<string, Resolved<PositionRow>>();
  for (const group of groups) {
    const { pair, ...position } = group.value;
    const [companyId, personId] = pair.split('|');
    const candidates = stored.positionsByPair.get(pair) ?? [];
    // exact email first; else an email-less stored position takes the new email; else an email-less item
    // updates the stored one rather than duplicating it
    const match =
      candidates.find((c) => (c.email ?? null) === (position.email ?? null)) ??
      (position.email ? candidates.find((c) => !c.email) : candidates[0]);
    if (!match) {
      const row: PositionRow = {
        ...position,
        emailStatus: position.emailStatus ?? 'UNKNOWN',
        id: randomUUID(),
        companyId,
        personId,
      };
      resolved.push({ row, state: 'created' });
      continue;
    }
    const previous = claimed.get(match.id);
    const base = previous?.row ?? match;
    const row = { ...mergeValues(base, { ...position, companyId, personId } as PositionRow), id: match.id };
    const entry: Resolved<PositionRow> = {
      row,
      state: differs(match, row, POSITION_KEYS) ? 'updated' : 'unchanged',
    };
    if (previous) Object.assign(previous, entry);
    else {
      claimed.set(match.id, entry);
      resolved.push(entry);
    }
  }
  return { resolved };
}

/** Runs a whole ingest inside the given (tenant) transaction. */
export async function ingestPharowItems(
  em: EntityManager,
  organisationId: string,
  rawItems: unknown,
  maxItems: number,
): Promise<IngestOutcome> {
  if (!Array.isArray(rawItems)) throw badInput('data must be a list of items', { field: 'data' });
  if (rawItems.length > maxItems) {
    throw badInput(`At most ${maxItems} items per call; split the batch (got ${rawItems.length})`, {
      field: 'data',
      maxItems,
      received: rawItems.length,
    });
  }
  const rejected: Rejection[] = [];
  const items: NormalisedItem[] = [];
  for (let i = 0; i < rawItems.length; i++) {
    const { item, rejections } = normalisePharowItem(rawItems[i], i);
    if (item) items.push(item);
    else rejected.push(...rejections);
  }
  const empty = { created: 0, updated: 0, unchanged: 0 };
  if (items.length === 0) {
    return {
      received: rawItems.length,
      companies: empty,
      people: { ...empty },
      positions: { ...empty },
      rejected,
    };
  }
  // One ingest at a time per organisation: matching reads what the previous one wrote.
  await rawQuery(em, "SELECT pg_advisory_xact_lock(hashtext('crm.ingest:' || ?))", [organisationId]);

  const companies = await resolveCompanies(em, organisationId, items);
  const linkedinUrls = [...new Set(items.map((i) => i.person.linkedinUrl).filter((v): v is string => !!v))];
  const stored = await loadStoredPeople(
    em,
    organisationId,
    [...new Set(companies.idOfItem.values())],
    linkedinUrls,
  );
  const people = resolvePeople(items, companies.idOfItem, stored);
  const positions = resolvePositions(items, companies.idOfItem, people.idOfItem, stored);

  const changed = <Row>(list: Resolved<Row>[]) =>
    list.filter((r) => r.state !== 'unchanged').map((r) => r.row);
  await upsertRows(em, 'crm.companies', organisationId, COMPANY_COLUMNS, changed(companies.resolved));
  await upsertRows(em, 'crm.people', organisationId, PERSON_COLUMNS, changed(people.resolved));
  await upsertRows(em, 'crm.positions', organisationId, POSITION_COLUMNS, changed(positions.resolved));

  return {
    received: rawItems.length,
    companies: count(companies.resolved),
    people: count(people.resolved),
    positions: count(positions.resolved),
    rejected,
  };
}
