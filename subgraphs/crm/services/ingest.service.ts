// Pharow ingest: normalise, merge duplicates within the batch, match what the organisation already has,
// and write only what is new or changed — all in the caller's transaction, so a failure stores nothing.
//
// Matching reads only keys and a fingerprint of each stored row's last ingested version: a repeat of the
// same data is recognised without reading or writing the rows themselves. Raw items remembered from an
// earlier ingest are not even normalised (known-items.ts).

import { hash, randomUUID } from 'node:crypto';
import { binaryArray } from '../../../lib/db/binary-array.ts';
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';
import { badInput } from '../../../lib/errors.ts';
import {
  type BulkStatement,
  type FieldSpec,
  insertStatement,
  runInsert,
  runUpdate,
  updateStatement,
} from './bulk-upsert.ts';
import {
  type KnownItem,
  loadKnownItems,
  loadRejected,
  loadUnitMembers,
  type RememberedRejection,
  rowByKey,
  rowsStamp,
  saveRejected,
  saveUnitMembers,
  type UnitMember,
  unitHash,
} from './known-items.ts';
import {
  CompanyMemo,
  type NormalisedCompany,
  type NormalisedItem,
  type NormalisedPerson,
  type NormalisedPosition,
  normalisePharowItem,
  type Rejection,
} from './normalise/index.ts';
import { RawItems } from './raw-items.ts';

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

// Position values as merged: an UNKNOWN email status is "no status" and must not overwrite a known one.
type PositionValue = Omit<NormalisedPosition, 'emailStatus'> & {
  emailStatus: NormalisedPosition['emailStatus'] | null;
};

const COMPANY_FIELDS: FieldSpec<NormalisedCompany>[] = [
  { column: 'pharow_company_id', type: 'text', key: 'pharowCompanyId', fillOnly: true },
  { column: 'siren', type: 'text', key: 'siren', fillOnly: true },
  { column: 'hq_siret', type: 'text', key: 'hqSiret' },
  { column: 'name', type: 'text', key: 'name' },
  { column: 'brand_name', type: 'text', key: 'brandName' },
  { column: 'linkedin_name', type: 'text', key: 'linkedinName' },
  { column: 'linkedin_url', type: 'text', key: 'linkedinUrl' },
  { column: 'website_url', type: 'text', key: 'websiteUrl' },
  { column: 'domain', type: 'citext', key: 'domain' },
  { column: 'main_phone', type: 'text', key: 'mainPhone' },
  { column: 'generic_email', type: 'citext', key: 'genericEmail' },
  { column: 'naf_sector', type: 'text', key: 'nafSector' },
  { column: 'naf_code', type: 'text', key: 'nafCode' },
  { column: 'activity', type: 'text', key: 'activity' },
  { column: 'founding_year', type: 'int', key: 'foundingYear' },
  { column: 'founding_date', type: 'date', key: 'foundingDate' },
  { column: 'growing', type: 'boolean', key: 'growing' },
  { column: 'employee_count', type: 'int', key: 'employeeCount' },
  { column: 'employee_range', type: 'text', key: 'employeeRange' },
  { column: 'employee_min', type: 'int', key: 'employeeMin' },
  { column: 'employee_max', type: 'int', key: 'employeeMax' },
  { column: 'hq_address', type: 'text', key: 'hqAddress' },
  { column: 'annual_revenue_eur', type: 'bigint', key: 'annualRevenueEur' },
  { column: 'annual_revenue_year', type: 'int', key: 'annualRevenueYear' },
];

const PERSON_FIELDS: FieldSpec<NormalisedPerson>[] = [
  { column: 'first_name', type: 'text', key: 'firstName' },
  { column: 'last_name', type: 'text', key: 'lastName' },
  { column: 'salutation', type: 'text', key: 'salutation' },
  { column: 'linkedin_url', type: 'text', key: 'linkedinUrl', fillOnly: true },
  { column: 'mobile_phone', type: 'text', key: 'mobilePhone' },
  { column: 'location', type: 'text', key: 'location' },
  { column: 'name_key', type: 'text', key: 'nameKey' },
];

const POSITION_FIELDS: FieldSpec<PositionValue>[] = [
  { column: 'job_title', type: 'text', key: 'jobTitle' },
  { column: 'email', type: 'citext', key: 'email', fillOnly: true },
  { column: 'email_status', type: 'text', key: 'emailStatus', whenAbsent: 'UNKNOWN' },
  { column: 'email_reliability', type: 'smallint', key: 'emailReliability' },
  { column: 'pharow_list_name', type: 'text', key: 'pharowListName' },
];

/** Fingerprint of a merged value: equal to the stored one means nothing new to write. */
function fingerprint<T>(value: T, fields: FieldSpec<T>[]): string {
  let text = '';
  for (const f of fields) text += `${value[f.key] ?? '\u0000'}\u0001`;
  return hash('sha1', text, 'base64url');
}

/** New non-empty values win; an empty value never blanks a known one; fill-only fields keep a known value. */
function mergeInto<T>(target: T, incoming: T, fields: FieldSpec<T>[]): void {
  for (const f of fields) {
    const value = incoming[f.key];
    if (value === null || value === undefined) continue;
    if (f.fillOnly && target[f.key] !== null && target[f.key] !== undefined) continue;
    target[f.key] = value;
  }
}

interface Group<T> {
  value: T;
  items: NormalisedItem[];
  /** While `value` is still its first record's own object, which must not change: how to copy it first. */
  borrowed?: (value: T) => T;
}

/** The group's value, made the group's own before anything changes it. */
function owned<T>(group: Group<T>): T {
  if (group.borrowed) {
    group.value = group.borrowed(group.value);
    group.borrowed = undefined;
  }
  return group.value;
}

// While statements are out, the planning hands the thread back this often: an answer is read, and the next
// statement sent, within a slice of work instead of after a whole planning step.
const PLANNING_SLICE_MS = 5;
// records handled between two looks at the clock
const SLICE_STRIDE = 128;

/** Turns of the event loop within long loops, at most one per slice of `ms` of work. */
class Slices {
  private since = performance.now();

  constructor(
    private readonly ms: number,
    private readonly pause: () => Promise<void>,
  ) {}

  /** A turn of the event loop once the slice is used up (else undefined: go on). */
  due(): Promise<void> | undefined {
    if (performance.now() - this.since < this.ms) return undefined;
    return this.pause().then(() => {
      this.since = performance.now();
    });
  }
}

/**
 * Merges records that share a key (tried in priority order), unless `compatible` vetoes that key.
 * The first record of a group becomes the group's value and is merged into in place; with `copy`, the records'
 * values are not the ingest's to change, and a group copies its first one when it has to.
 */
async function groupRecords<T>(
  records: { value: T; item: NormalisedItem }[],
  keysOf: (value: T) => string[],
  compatible: (a: T, b: T, key: string) => boolean,
  fields: FieldSpec<T>[],
  copy?: (value: T) => T,
  slices?: Slices,
): Promise<Group<T>[]> {
  const groups: Group<T>[] = [];
  const byKey = new Map<string, Group<T>>();
  for (let r = 0; r < records.length; r++) {
    if (r % SLICE_STRIDE === 0) await slices?.due();
    const { value, item } = records[r];
    let group: Group<T> | undefined;
    const keys = keysOf(value);
    for (const key of keys) {
      const candidate = byKey.get(key);
      if (candidate && compatible(candidate.value, value, key)) {
        group = candidate;
        break;
      }
    }
    if (group) {
      mergeInto(owned(group), value, fields);
      group.items.push(item);
    } else {
      group = { value, items: [item], borrowed: copy };
      groups.push(group);
    }
    // a new group's keys are this record's; a merged value can have gained some
    for (const key of group.items.length === 1 ? keys : keysOf(group.value))
      if (!byKey.has(key)) byKey.set(key, group);
  }
  return groups;
}

type Row<T> = T & { id: string; sourceHash: string };
type Writes<T> = Pick<Plan<T, unknown>, 'inserts' | 'updates' | 'unchanged'>;

/** What to write for one table: new rows, rows that may have changed, and rows known unchanged. */
interface Plan<T, S> {
  inserts: Row<T>[];
  updates: Row<T>[];
  unchanged: Row<T>[];
  /** every row the batch lands on: the value written (its source hash) and the stored row it matched */
  rows: Map<string, { value: T; sourceHash: string; stored?: S }>;
}

/**
 * Folds groups onto the stored rows they matched (several groups can land on one row). A group's value
 * becomes the row written, with its id and source hash: no copy of 10,000 objects.
 */
async function plan<T extends object, S extends { id: string; sourceHash: string | null }>(
  groups: Group<T>[],
  matchOf: (group: Group<T>) => S | undefined,
  fields: FieldSpec<T>[],
  idOfItem: Map<NormalisedItem, string>,
  slices?: Slices,
): Promise<Plan<T, S>> {
  const result: Plan<T, S> = { inserts: [], updates: [], unchanged: [], rows: new Map() };
  const matched = new Map<string, { stored: S; group: Group<T> }>();
  for (let g = 0; g < groups.length; g++) {
    if (g % SLICE_STRIDE === 0) await slices?.due();
    const group = groups[g];
    const stored = matchOf(group);
    if (!stored) {
      const id = randomUUID();
      const sourceHash = fingerprint(group.value, fields);
      const value = owned(group);
      result.inserts.push(Object.assign(value, { id, sourceHash }));
      result.rows.set(id, { value, sourceHash });
      for (const item of group.items) idOfItem.set(item, id);
      continue;
    }
    const entry = matched.get(stored.id);
    if (entry) mergeInto(owned(entry.group), group.value, fields);
    else matched.set(stored.id, { stored, group });
    for (const item of group.items) idOfItem.set(item, stored.id);
  }
  for (const { stored, group } of matched.values()) {
    const value = owned(group);
    const sourceHash = fingerprint(value, fields);
    const row = Object.assign(value, { id: stored.id, sourceHash });
    if (sourceHash === stored.sourceHash) result.unchanged.push(row);
    else result.updates.push(row);
    result.rows.set(stored.id, { value, sourceHash, stored });
  }
  return result;
}

// ---------------------------------------------------------------- companies

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

interface StoredCompany {
  id: string;
  pharowCompanyId: string | null;
  siren: string | null;
  domain: string | null;
  name: string;
  sourceHash: string | null;
}

async function planCompanies(em: EntityManager, organisationId: string, items: NormalisedItem[]) {
  // each item's company is copied only if its group changes it (most items share a company with others)
  const groups = await groupRecords(
    items.map((item) => ({ value: item.company, item })),
    companyKeys,
    companiesCompatible,
    COMPANY_FIELDS,
    (company) => ({ ...company }),
  );
  // the groups' keys by kind (p: Pharow id, s: SIREN, d: domain, n: name), without their prefix
  const keysByKind = new Map<string, string[]>(['p:', 's:', 'd:', 'n:'].map((kind) => [kind, []]));
  for (const group of groups)
    for (const key of companyKeys(group.value)) keysByKind.get(key.slice(0, 2))?.push(key.slice(2));
  const pick = (prefix: string) => keysByKind.get(prefix)!;
  // the identity keys are indexed byte-wise ("C"), domains and names lower-cased (migration 0011)
  const stored = await rawQuery<StoredCompany>(
    em,
    `SELECT id, pharow_company_id AS "pharowCompanyId", siren, domain::text AS domain, name, source_hash AS "sourceHash"
     FROM crm.companies
     WHERE organisation_id = ? AND (pharow_company_id COLLATE "C" = ANY(?::text[]) OR siren COLLATE "C" = ANY(?::text[])
       OR lower(domain::text) COLLATE "C" = ANY(ARRAY(SELECT lower(d) FROM unnest(?::text[]) d))
       OR lower(name) COLLATE "C" = ANY(?::text[]))`,
    [organisationId, ...['p:', 's:', 'd:', 'n:'].map((prefix) => binaryArray('text', pick(prefix)))],
  );
  const storedByKey = new Map<string, StoredCompany>();
  for (const row of stored) {
    for (const key of [...companyKeys(row), `n:${row.name.toLowerCase()}`]) {
      if (!storedByKey.has(key)) storedByKey.set(key, row);
    }
  }
  const idOfItem = new Map<NormalisedItem, string>();
  const result = await plan<NormalisedCompany, StoredCompany>(
    groups,
    (group) => {
      const match = companyKeys(group.value)
        .map((k) => [k, storedByKey.get(k)] as const)
        .find(([k, row]) => row && companiesCompatible(row, group.value, k))?.[1];
      if (!match) return undefined;
      // never fill in an identifier that another stored company already holds
      for (const [prefix, key] of [
        ['p:', 'pharowCompanyId'],
        ['s:', 'siren'],
      ] as const) {
        const owner = group.value[key] ? storedByKey.get(`${prefix}${group.value[key]}`) : undefined;
        if (owner && owner.id !== match.id) owned(group)[key] = null;
      }
      return match;
    },
    COMPANY_FIELDS,
    idOfItem,
  );
  return { plan: result, idOfItem, groups };
}

// ---------------------------------------------------------------- people and positions

interface StoredPerson {
  id: string;
  linkedinUrl: string | null;
  nameKey: string | null;
  sourceHash: string | null;
}

interface StoredPosition {
  id: string;
  companyId: string;
  personId: string;
  email: string | null;
  sourceHash: string | null;
  itemHash: string | null;
  itemRows: string | null;
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

/** Everyone with a position at these companies (with those positions), and people by LinkedIn URL. */
async function loadStoredPeople(
  em: EntityManager,
  organisationId: string,
  companyIds: string[],
  linkedinUrls: string[],
) {
  const rows = await rawQuery<
    StoredPerson & {
      positionId: string | null;
      companyId: string | null;
      email: string | null;
      positionHash: string | null;
      itemHash: string | null;
      itemRows: string | null;
    }
  >(
    em,
    `SELECT p.id, p.linkedin_url AS "linkedinUrl", p.name_key AS "nameKey", p.source_hash AS "sourceHash",
            pos.id AS "positionId", pos.company_id AS "companyId", pos.email::text AS email, pos.source_hash AS "positionHash",
            pos.item_hash AS "itemHash", pos.item_rows AS "itemRows"
     FROM crm.positions pos CROSS JOIN LATERAL (${rowByKey('people', 'person_id', 'id, linkedin_url, name_key, source_hash')}) p
     WHERE pos.organisation_id = ? AND pos.company_id = ANY(?::uuid[])
     UNION ALL
     SELECT p.id, p.linkedin_url, p.name_key, p.source_hash, NULL, NULL, NULL, NULL, NULL, NULL
     FROM crm.people p WHERE p.organisation_id = ? AND p.linkedin_url COLLATE "C" = ANY(?::text[])`,
    [organisationId, binaryArray('uuid', companyIds), organisationId, binaryArray('text', linkedinUrls)],
  );
  const peopleByKey = new Map<string, StoredPerson>();
  const positionsByPair = new Map<string, StoredPosition[]>();
  for (const r of rows) {
    const person = peopleByKey.get(`i:${r.id}`) ?? {
      id: r.id,
      linkedinUrl: r.linkedinUrl,
      nameKey: r.nameKey,
      sourceHash: r.sourceHash,
    };
    peopleByKey.set(`i:${r.id}`, person);
    for (const key of personKeys(person, r.companyId))
      if (!peopleByKey.has(key)) peopleByKey.set(key, person);
    if (r.positionId && r.companyId) {
      const pair = `${r.companyId}|${r.id}`;
      const list = positionsByPair.get(pair) ?? [];
      list.push({
        id: r.positionId,
        companyId: r.companyId,
        personId: r.id,
        email: r.email,
        sourceHash: r.positionHash,
        itemHash: r.itemHash,
        itemRows: r.itemRows,
      });
      positionsByPair.set(pair, list);
    }
  }
  return { peopleByKey, positionsByPair };
}

type Stored = Awaited<ReturnType<typeof loadStoredPeople>>;

async function planPeople(items: NormalisedItem[], companyOf: Map<NormalisedItem, string>, stored: Stored) {
  type Candidate = NormalisedPerson & { companyId: string };
  const keysOf = (p: Candidate) => personKeys(p, p.companyId);
  // a name match at the same company is vetoed by two different LinkedIn profiles
  const compatible = (a: { linkedinUrl: string | null }, b: { linkedinUrl: string | null }) =>
    !(a.linkedinUrl && b.linkedinUrl && a.linkedinUrl !== b.linkedinUrl);
  const groups = await groupRecords<Candidate>(
    // explicit literals, not spreads: one object shape for all 10,000 values keeps this loop monomorphic
    items.map((item) => {
      const p = item.person;
      const value: Candidate = {
        firstName: p.firstName,
        lastName: p.lastName,
        salutation: p.salutation,
        linkedinUrl: p.linkedinUrl,
        mobilePhone: p.mobilePhone,
        location: p.location,
        nameKey: p.nameKey,
        companyId: companyOf.get(item)!,
      };
      return { value, item };
    }),
    keysOf,
    compatible,
    PERSON_FIELDS as FieldSpec<Candidate>[],
  );
  const idOfItem = new Map<NormalisedItem, string>();
  const result = await plan<Candidate, StoredPerson>(
    groups,
    (group) =>
      keysOf(group.value)
        .map((k) => stored.peopleByKey.get(k))
        .find((row) => row && compatible(row, group.value)),
    PERSON_FIELDS as FieldSpec<Candidate>[],
    idOfItem,
  );
  return { plan: result, idOfItem, groups };
}

async function planPositions(
  items: NormalisedItem[],
  companyOf: Map<NormalisedItem, string>,
  personOf: Map<NormalisedItem, string>,
  stored: Stored,
  slices: Slices,
) {
  type Candidate = PositionValue & { companyId: string; personId: string };
  const groups = await groupRecords<Candidate>(
    items.map((item) => {
      const p = item.position;
      const value: Candidate = {
        jobTitle: p.jobTitle,
        email: p.email,
        emailStatus: p.emailStatus === 'UNKNOWN' ? null : p.emailStatus,
        emailReliability: p.emailReliability,
        pharowListName: p.pharowListName,
        companyId: companyOf.get(item)!,
        personId: personOf.get(item)!,
      };
      return { value, item };
    }),
    (p) => [`${p.companyId}|${p.personId}|${p.email ?? ''}`],
    () => true,
    POSITION_FIELDS as FieldSpec<Candidate>[],
    undefined,
    slices,
  );
  const idOfItem = new Map<NormalisedItem, string>();
  const result = await plan<Candidate, StoredPosition>(
    groups,
    ({ value }) => {
      const candidates = stored.positionsByPair.get(`${value.companyId}|${value.personId}`) ?? [];
      // exact email first; else an email-less stored position takes the new email; else an email-less
      // item updates the stored one rather than duplicating it
      return (
        candidates.find((c) => c.email === value.email) ??
        (value.email ? candidates.find((c) => !c.email) : candidates[0])
      );
    },
    POSITION_FIELDS as FieldSpec<Candidate>[],
    idOfItem,
    slices,
  );
  return { plan: result, idOfItem, groups };
}

// ---------------------------------------------------------------- remembering raw items

type PositionRow = PositionValue & { companyId: string; personId: string };
type Planned<T, S> = { plan: Plan<T, S>; idOfItem: Map<NormalisedItem, string>; groups: Group<T>[] };
type CompanyPlan = Planned<NormalisedCompany, StoredCompany>;
type PersonPlan = Planned<NormalisedPerson & { companyId: string }, StoredPerson>;
type PositionPlan = Planned<PositionRow, StoredPosition>;

/** The raw item a position stands for (migration 0012), or nulls. */
interface Label {
  itemHash: string | null;
  itemRows: string | null;
}
const NO_LABEL: Label = { itemHash: null, itemRows: null };
const LABEL_FIELDS: FieldSpec<Label>[] = [
  { column: 'item_hash', type: 'text', key: 'itemHash', replace: true },
  { column: 'item_rows', type: 'text', key: 'itemRows', replace: true },
];

function positionValueOf(item: NormalisedItem): PositionValue {
  const p = item.position;
  return {
    jobTitle: p.jobTitle,
    email: p.email,
    emailStatus: p.emailStatus === 'UNKNOWN' ? null : p.emailStatus,
    emailReliability: p.emailReliability,
    pharowListName: p.pharowListName,
  };
}

/** Whether two values agree on every field, as their fingerprints would (cheaper than hashing). */
function sameValues<T>(a: T, b: T, fields: FieldSpec<T>[]): boolean {
  for (const f of fields) if ((a[f.key] ?? null) !== (b[f.key] ?? null)) return false;
  return true;
}

/** Whether a stored company's identity (what it is matched and listed by) is this value's. */
function storedAs(stored: StoredCompany, value: NormalisedCompany): boolean {
  return (
    stored.pharowCompanyId === value.pharowCompanyId &&
    stored.siren === value.siren &&
    stored.domain?.toLowerCase() === value.domain?.toLowerCase() &&
    stored.name.toLowerCase() === value.name.toLowerCase()
  );
}

/**
 * The label one item earns: its own values are what its company, person and position hold after this
 * write (same source hashes), and so are the keys it would be matched by. Anything merged from elsewhere
 * means the item alone no longer describes its rows: no label.
 */
function itemLabel(
  item: NormalisedItem,
  itemHash: string | null,
  companies: CompanyPlan,
  people: PersonPlan,
  positions: PositionPlan,
): Label | null {
  if (!itemHash) return null;
  const company = companies.plan.rows.get(companies.idOfItem.get(item)!)!;
  const person = people.plan.rows.get(people.idOfItem.get(item)!)!;
  const position = positions.plan.rows.get(positions.idOfItem.get(item)!)!;
  const c = item.company;
  const p = item.person;
  const own = positionValueOf(item);
  if (!sameValues(c, company.value, COMPANY_FIELDS)) return null;
  if (company.stored && !storedAs(company.stored, c)) return null;
  if (!sameValues<NormalisedPerson>(p, person.value, PERSON_FIELDS)) return null;
  if (person.stored && !(person.stored.linkedinUrl === p.linkedinUrl && person.stored.nameKey === p.nameKey))
    return null;
  if (!sameValues<PositionValue>(own, position.value, POSITION_FIELDS)) return null;
  if (position.stored && position.stored.email !== own.email) return null;
  return {
    itemHash,
    itemRows: rowsStamp(company.sourceHash, person.sourceHash, position.sourceHash),
  };
}

/** Each position's label: the one its items agree on (copies of one raw item), else none. */
async function labelPositions(
  items: NormalisedItem[],
  fingerprints: (string | null)[],
  companies: CompanyPlan,
  people: PersonPlan,
  positions: PositionPlan,
  slices: Slices,
): Promise<Map<string, Label>> {
  const labels = new Map<string, Label>();
  for (let i = 0; i < items.length; i++) {
    if (i % SLICE_STRIDE === 0) await slices.due();
    const item = items[i];
    const id = positions.idOfItem.get(item)!;
    const current = labels.get(id);
    if (current === NO_LABEL) continue;
    const label = itemLabel(item, fingerprints[item.index], companies, people, positions) ?? NO_LABEL;
    const agrees = !current || (current.itemHash === label.itemHash && current.itemRows === label.itemRows);
    labels.set(id, agrees ? label : NO_LABEL);
  }
  return labels;
}

/**
 * The units of items that only together describe their rows (migration 0050), in batch order: a unit is every
 * item that landed on one connected set of companies, people and positions. Only units with a position whose
 * items do not agree on a label (see labelPositions) need one of their own.
 */
function unitsNeedingLabels(
  items: NormalisedItem[],
  companies: CompanyPlan,
  people: PersonPlan,
  positions: PositionPlan,
  labels: Map<string, Label>,
): NormalisedItem[][] {
  // items joined by any row they share
  const parent = items.map((_, i) => i);
  const root = (i: number) => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  const firstOn = new Map<string, number>();
  const join = (row: string, i: number) => {
    const first = firstOn.get(row);
    if (first === undefined) firstOn.set(row, i);
    else parent[root(i)] = root(first);
  };
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    join(companies.idOfItem.get(item)!, i);
    join(people.idOfItem.get(item)!, i);
    join(positions.idOfItem.get(item)!, i);
  }
  const needed = new Set<number>();
  for (let i = 0; i < items.length; i++)
    if ((labels.get(positions.idOfItem.get(items[i])!) ?? NO_LABEL) === NO_LABEL) needed.add(root(i));
  const units = new Map<number, NormalisedItem[]>();
  // in batch order (the items are sorted by index)
  for (let i = 0; i < items.length; i++) {
    const r = root(i);
    if (!needed.has(r)) continue;
    const unit = units.get(r) ?? [];
    unit.push(items[i]);
    units.set(r, unit);
  }
  return [...units.values()];
}

/**
 * Labels the units that need it (unitsNeedingLabels): their positions' labels, and their members to remember.
 *
 * A repeat of the same items in the same order, with nothing else landing on those rows, gives the same
 * groups, the same merged values and the same source hashes: all unchanged. Which other items can land
 * on them is decided by keys (implicated() checks the stored rows' keys), so a unit is labelled only when
 * the stored rows' keys are the merged ones and every member's own keys are among them; and never when an
 * item skipped in this batch shares a row (the unit would then be more than its items).
 */
function labelUnits(
  units: NormalisedItem[][],
  fingerprints: (string | null)[],
  companies: CompanyPlan,
  people: PersonPlan,
  positions: PositionPlan,
  known: KnownItem[],
): { members: Map<string, UnitMember>; unitLabels: Map<string, Label> } {
  const members = new Map<string, UnitMember>();
  const unitLabels = new Map<string, Label>();
  const rowsOf = (item: NormalisedItem) => {
    const companyId = companies.idOfItem.get(item)!;
    const personId = people.idOfItem.get(item)!;
    const positionId = positions.idOfItem.get(item)!;
    return {
      companyId,
      personId,
      positionId,
      company: companies.plan.rows.get(companyId)!,
      person: people.plan.rows.get(personId)!,
      position: positions.plan.rows.get(positionId)!,
    };
  };
  const knownRows = new Set(known.flatMap((k) => [k.companyId, k.personId, k.positionId]));
  const subset = (keys: string[], of: string[]) => keys.every((k) => of.includes(k));
  const describes = (item: NormalisedItem): boolean => {
    const r = rowsOf(item);
    if (knownRows.has(r.companyId) || knownRows.has(r.personId) || knownRows.has(r.positionId)) return false;
    const c = r.company.value;
    if (r.company.stored && !storedAs(r.company.stored, c)) return false;
    if (!subset(companyKeys(item.company), companyKeys(c))) return false;
    const p = r.person.value;
    const sp = r.person.stored;
    if (sp && !(sp.linkedinUrl === p.linkedinUrl && sp.nameKey === p.nameKey)) return false;
    if (!subset(personKeys(item.person, r.companyId), personKeys(p, r.companyId))) return false;
    const email = r.position.value.email ?? null;
    if (r.position.stored && r.position.stored.email !== email) return false;
    return (item.position.email ?? null) === email;
  };
  const labelled: { hash: string; positions: Map<string, Label>; hashes: string[] }[] = [];
  const claimed = new Map<string, number>();
  for (const unit of units) {
    if (unit.length < 2) continue;
    const hashes = unit.map((item) => fingerprints[item.index]);
    if (hashes.some((h) => h === null) || !unit.every(describes)) continue;
    const own = new Map<string, Label>();
    for (const item of unit) {
      const r = rowsOf(item);
      own.set(r.positionId, {
        itemHash: '',
        itemRows: rowsStamp(r.company.sourceHash, r.person.sourceHash, r.position.sourceHash),
      });
    }
    const hash = unitHash(hashes as string[]);
    for (const label of own.values()) label.itemHash = hash;
    labelled.push({ hash, positions: own, hashes: hashes as string[] });
    for (const h of new Set(hashes as string[])) claimed.set(h, (claimed.get(h) ?? 0) + 1);
  }
  for (const unit of labelled) {
    // the same raw item lands on the same rows: in two units, something is off, and neither is labelled
    if (unit.hashes.some((h) => claimed.get(h)! > 1)) continue;
    for (const [id, label] of unit.positions) unitLabels.set(id, label);
    for (const h of unit.hashes) members.set(h, { unitHash: unit.hash, positions: unit.positions.size });
  }
  return { members, unitLabels };
}

/**
 * The known items that leaving out can have changed what the others do: an item planned here shares a key
 * with a known item's row but lands on another row, or changes a known item's row (a group's value merged
 * without the known items can differ from the one merged with them). Those go through the pipeline
 * with the others; every known item left out is then one the full pipeline would have grouped alone onto
 * its own unchanged rows, as skipping it does. Two known items sharing a key on different rows implicate all.
 */
function implicated(
  known: KnownItem[],
  companies: CompanyPlan,
  people: PersonPlan,
  positions: PositionPlan,
): Set<KnownItem> {
  const found = new Set<string>();
  const owners = (entries: [string[], string][]) => {
    const byKey = new Map<string, string>();
    for (const [keys, id] of entries) {
      for (const key of keys) {
        const other = byKey.get(key);
        if (other && other !== id) return undefined;
        byKey.set(key, id);
      }
    }
    return byKey;
  };
  const positionKey = (companyId: string, personId: string, email: string | null) =>
    `${companyId}|${personId}|${email ?? ''}`;
  const knownCompanies = owners(known.map((k) => [companyKeys(k.company), k.companyId]));
  const knownPeople = owners(known.map((k) => [personKeys(k.person, k.companyId), k.personId]));
  const knownPositions = owners(
    known.map((k) => [[positionKey(k.companyId, k.personId, k.email)], k.positionId]),
  );
  if (!knownCompanies || !knownPeople || !knownPositions) return new Set(known);
  const check = <T, S>(
    planned: Planned<T, S>,
    byKey: Map<string, string>,
    keysOf: (value: T) => string[],
    itemKeys: (item: NormalisedItem) => string[],
  ) => {
    const knownIds = new Set(byKey.values());
    const written = new Set([...planned.plan.inserts, ...planned.plan.updates].map((r) => r.id));
    for (const group of planned.groups) {
      const id = planned.idOfItem.get(group.items[0])!;
      // landing unchanged on a known row is harmless: the known items' values are that row's too
      if (knownIds.has(id) && written.has(id)) found.add(id);
      // every item's own keys too: a merged value can have lost one to a fill-only identifier
      const keys = [...keysOf(group.value), ...group.items.flatMap(itemKeys)];
      for (const key of keys) {
        const owner = byKey.get(key);
        if (owner && owner !== id) found.add(owner);
      }
    }
  };
  const companyOf = (item: NormalisedItem) => companies.idOfItem.get(item)!;
  const personOf = (item: NormalisedItem) => people.idOfItem.get(item)!;
  check(companies, knownCompanies, companyKeys, (item) => companyKeys(item.company));
  check(
    people,
    knownPeople,
    (p) => personKeys(p, p.companyId),
    (item) => personKeys(item.person, companyOf(item)),
  );
  check(
    positions,
    knownPositions,
    (p) => [positionKey(p.companyId, p.personId, p.email)],
    (item) => [positionKey(companyOf(item), personOf(item), item.position.email)],
  );
  return new Set(
    known.filter((k) => found.has(k.companyId) || found.has(k.personId) || found.has(k.positionId)),
  );
}

// ---------------------------------------------------------------- the ingest

/**
 * Runs a whole ingest inside the given (tenant) transaction. With `goAhead`, nothing is written before it
 * resolves (the gateway still checking the request: lib/http/verdict-body.ts); its rejection fails the ingest.
 */
export async function ingestPharowItems(
  em: EntityManager,
  organisationId: string,
  rawItems: unknown,
  maxItems: number,
  goAhead?: Promise<void>,
): Promise<IngestOutcome> {
  if (!(rawItems instanceof RawItems) && !Array.isArray(rawItems))
    throw badInput('data must be a list of items', { field: 'data' });
  const batch = rawItems instanceof RawItems ? rawItems : RawItems.ofValues(rawItems);
  if (batch.length > maxItems) {
    throw badInput(`At most ${maxItems} items per call; split the batch (got ${batch.length})`, {
      field: 'data',
      maxItems,
      received: batch.length,
    });
  }
  const fingerprints = batch.fingerprints();
  const wanted = [...new Set(fingerprints.filter((f): f is string => f !== null))];
  const ahead = new NormalisedAhead(batch);
  const { remaining, refused } = await ahead.during(
    (async () => {
      // One ingest at a time per organisation: matching must see what the previous one wrote.
      if (wanted.length > 0)
        await rawQuery(em, "SELECT pg_advisory_xact_lock(hashtext('crm.ingest:' || ?))", [organisationId]);
      const remaining = new Set(await knownUnits(em, organisationId, fingerprints, wanted));
      const known = new Set<number>();
      for (const unit of remaining) for (const i of unit.indexes) known.add(i);
      const unread = new Set<string>();
      for (let i = 0; i < batch.length; i++)
        if (!known.has(i) && fingerprints[i]) unread.add(fingerprints[i]!);
      // items refused before are refused again, the same way, without being read
      return { remaining, refused: await loadRejected(em, organisationId, [...unread]) };
    })(),
  );
  const skipped = new Set<number>();
  for (const unit of remaining) for (const i of unit.indexes) skipped.add(i);
  const unknown: number[] = [];
  const refusedAgain: Rejection[] = [];
  for (let i = 0; i < batch.length; i++) {
    if (skipped.has(i)) continue;
    const known = fingerprints[i] ? refused.get(fingerprints[i]!) : undefined;
    if (known) for (const r of known) refusedAgain.push({ index: i, field: r.field, message: r.message });
    else unknown.push(i);
  }
  const { items, rejected } = normaliseItems(ahead, unknown);
  const newlyRefused = new Map<string, RememberedRejection[]>();
  const refusedAt = new Map<string, number>();
  for (const r of rejected) {
    const f = fingerprints[r.index];
    if (!f) continue;
    const at = refusedAt.get(f) ?? r.index;
    refusedAt.set(f, at);
    // the same item again elsewhere in the batch: its rejections once
    if (at !== r.index) continue;
    const list = newlyRefused.get(f) ?? [];
    list.push({ field: r.field, message: r.message });
    newlyRefused.set(f, list);
  }
  if (refusedAgain.length > 0) {
    rejected.push(...refusedAgain);
    rejected.sort((a, b) => a.index - b.index);
  }
  // known items at the same company as a new or changed one will most likely be implicated: take them now
  let pulled: KnownUnit[] = [];
  if (remaining.size > 0) {
    const companyKeysOfItems = new Set(items.flatMap((item) => companyKeys(item.company)));
    pulled = [...remaining].filter((unit) =>
      unit.rows.some((k) => companyKeys(k.company).some((key) => companyKeysOfItems.has(key))),
    );
  }
  await goAhead;
  // remembered while the rest is planned: the database has nothing else to do until the first write
  const remembered = saveRejected(em, organisationId, newlyRefused);
  remembered.catch(() => undefined);
  for (let round = 1; ; round++) {
    for (const unit of pulled) remaining.delete(unit);
    if (pulled.length > 0) {
      const more = normaliseItems(
        ahead,
        pulled.flatMap((unit) => unit.indexes),
      );
      const byIndex = (a: { index: number }, b: { index: number }) => a.index - b.index;
      items.push(...more.items);
      items.sort(byIndex);
      rejected.push(...more.rejected);
      rejected.sort(byIndex);
    }
    const known = [...remaining].flatMap((unit) => unit.rows);
    const outcome = await writeItems(em, organisationId, items, fingerprints, known);
    if (!(outcome instanceof Set)) {
      await remembered;
      return { received: batch.length, ...outcome, rejected };
    }
    // the known items the others touch go through the pipeline with them (after a few rounds, all)
    pulled = [...remaining].filter((unit) => round >= 3 || unit.rows.some((k) => outcome.has(k)));
  }
}

/** Batch items recognised together: they change nothing, and stand for these rows. */
interface KnownUnit {
  indexes: number[];
  rows: KnownItem[];
}

/**
 * The batch's items already stored: each item that alone describes its position (migration 0012), and each
 * unit of items (migration 0050) the batch holds exactly, in the same order, whose positions all still
 * carry its label.
 */
async function knownUnits(
  em: EntityManager,
  organisationId: string,
  fingerprints: (string | null)[],
  wanted: string[],
): Promise<KnownUnit[]> {
  const singles = await loadKnownItems(em, organisationId, wanted);
  const members = await loadUnitMembers(
    em,
    organisationId,
    wanted.filter((f) => !singles.has(f)),
  );
  const single = new Map<string, number[]>();
  const byUnit = new Map<string, { indexes: number[]; hashes: string[]; positions: number }>();
  for (let i = 0; i < fingerprints.length; i++) {
    const f = fingerprints[i];
    if (f === null) continue;
    if (singles.has(f)) {
      const indexes = single.get(f) ?? [];
      indexes.push(i);
      single.set(f, indexes);
      continue;
    }
    const member = members.get(f);
    if (!member) continue;
    const unit = byUnit.get(member.unitHash) ?? { indexes: [], hashes: [], positions: member.positions };
    unit.indexes.push(i);
    unit.hashes.push(f);
    byUnit.set(member.unitHash, unit);
  }
  const units: KnownUnit[] = [];
  for (const [f, indexes] of single) {
    // one position per raw item; were there ever two, the last one read stands (as it always did)
    const rows = singles.get(f)!;
    units.push({ indexes, rows: [rows[rows.length - 1]] });
  }
  const complete = [...byUnit].filter(([hash, unit]) => unitHash(unit.hashes) === hash);
  if (complete.length === 0) return units;
  const labelled = await loadKnownItems(
    em,
    organisationId,
    complete.map(([hash]) => hash),
  );
  for (const [hash, unit] of complete) {
    const rows = labelled.get(hash);
    if (rows?.length === unit.positions) units.push({ indexes: unit.indexes, rows });
  }
  return units;
}

// Time spent normalising between two looks at the database's answers: each of the look-ups' round trips
// waits for at most this long (a fixed count of items would wait as long as the machine is slow).
const AHEAD_SLICE_MS = 4;
// items normalised between two looks at the clock
const AHEAD_STRIDE = 16;

/**
 * The batch's items normalised in order while the database looks up which of them it already knows: a fresh
 * batch needs every one of them, and a repeat loses only the few done before the answers came.
 */
class NormalisedAhead {
  private readonly done: (ReturnType<typeof normalisePharowItem> | undefined)[] = [];
  private readonly companies = new CompanyMemo();
  private next = 0;

  constructor(private readonly batch: RawItems) {}

  /** Normalises items until `answer` settles, between turns of the event loop; then resolves as it does. */
  async during<T>(answer: Promise<T>): Promise<T> {
    let settled = false;
    const watched = answer.finally(() => {
      settled = true;
    });
    // its failure is reported where it is awaited below
    watched.catch(() => undefined);
    const slices = new Slices(AHEAD_SLICE_MS, () => new Promise((resolve) => setImmediate(resolve)));
    while (!settled && this.next < this.batch.length) {
      try {
        this.done[this.next] = normalisePharowItem(this.batch.value(this.next), this.next, this.companies);
      } catch {
        // an item that is not JSON: the ingest reports it when it comes to it
        break;
      }
      this.next++;
      if (this.next % AHEAD_STRIDE === 0) await slices.due();
    }
    return watched;
  }

  result(index: number): ReturnType<typeof normalisePharowItem> {
    return this.done[index] ?? normalisePharowItem(this.batch.value(index), index, this.companies);
  }
}

function normaliseItems(ahead: NormalisedAhead, indexes: number[]) {
  const rejected: Rejection[] = [];
  const items: NormalisedItem[] = [];
  for (const i of indexes) {
    const { item, rejections } = ahead.result(i);
    if (item) items.push(item);
    else rejected.push(...rejections);
  }
  return { items, rejected };
}

type Counts = Pick<IngestOutcome, 'companies' | 'people' | 'positions'>;

/**
 * Plans and writes the normalised items; the known ones are counted unchanged. When skipping some known
 * items could change the outcome, writes nothing and returns those items instead.
 */
async function writeItems(
  em: EntityManager,
  organisationId: string,
  items: NormalisedItem[],
  fingerprints: (string | null)[],
  known: KnownItem[],
): Promise<Counts | Set<KnownItem>> {
  const outcome: Counts = { companies: none(), people: none(), positions: none() };
  if (items.length > 0) {
    const written = await writePlanned(em, organisationId, items, fingerprints, known);
    if (written instanceof Set) return written;
    Object.assign(outcome, written.counts);
    for (const k of known) {
      // rows the planned items also landed on (unchanged) are counted already
      written.rows.companies.add(k.companyId);
      written.rows.people.add(k.personId);
      written.rows.positions.add(k.positionId);
    }
    outcome.companies.unchanged += written.rows.companies.size - written.before.companies;
    outcome.people.unchanged += written.rows.people.size - written.before.people;
    outcome.positions.unchanged += written.rows.positions.size - written.before.positions;
    return outcome;
  }
  outcome.companies.unchanged = new Set(known.map((k) => k.companyId)).size;
  outcome.people.unchanged = new Set(known.map((k) => k.personId)).size;
  outcome.positions.unchanged = new Set(known.map((k) => k.positionId)).size;
  return outcome;
}

/**
 * The positions to write with their labels: an unchanged position still learns which raw item it stands for
 * (a known item's label stays).
 */
function labelledPositions(
  positions: PositionPlan,
  labels: Map<string, Label>,
  knownPositions: Set<string>,
): Writes<PositionRow & Label> {
  // the label goes onto the row itself (the position's value, compared by field only)
  const labelled = (row: Row<PositionRow>) => Object.assign(row, labels.get(row.id) ?? NO_LABEL);
  const plan: Writes<PositionRow & Label> = {
    inserts: positions.plan.inserts.map(labelled),
    updates: positions.plan.updates.map(labelled),
    unchanged: [],
  };
  for (const row of positions.plan.unchanged) {
    const stored = positions.plan.rows.get(row.id)?.stored;
    const label = labels.get(row.id) ?? NO_LABEL;
    const relabel =
      !knownPositions.has(row.id) &&
      (stored?.itemHash !== label.itemHash || stored?.itemRows !== label.itemRows);
    (relabel ? plan.updates : plan.unchanged).push(Object.assign(row, label));
  }
  return plan;
}

async function writePlanned(
  em: EntityManager,
  organisationId: string,
  items: NormalisedItem[],
  fingerprints: (string | null)[],
  known: KnownItem[],
) {
  const companies = await planCompanies(em, organisationId, items);
  const linkedinUrls = [...new Set(items.map((i) => i.person.linkedinUrl).filter((v): v is string => !!v))];
  // asked now: with nothing known, the companies' insert is built meanwhile and goes right behind it
  const storedPeople = loadStoredPeople(
    em,
    organisationId,
    [...new Set(companies.idOfItem.values())],
    linkedinUrls,
  );
  storedPeople.catch(() => undefined);
  // A table's writes, built now and sent in their turn: the statement before them is still running, and the
  // arrays they bind are ready when it answers.
  const counts = <T>(table: string, fields: FieldSpec<T>[], p: Writes<T>, extra: FieldSpec<T>[] = []) => {
    const insert = insertStatement(table, organisationId, [...extra, ...fields], p.inserts);
    const update = updateStatement(table, organisationId, fields, p.updates);
    return async (): Promise<UpsertCounts> => {
      await runInsert(em, insert);
      const updated = await runUpdate(em, update);
      return {
        created: p.inserts.length,
        updated,
        unchanged: p.unchanged.length + p.updates.length - updated,
      };
    };
  };
  const writePeople = (people: PersonPlan) =>
    writing.next(counts('crm.people', PERSON_FIELDS, people.plan as Writes<NormalisedPerson>));
  // With nothing known, each table is written as soon as it is planned: the database inserts the companies
  // while the people are planned, and the people while the positions are. Known items must first be
  // checked against the whole plan, before any write.
  const writing = new Statements();
  const writeNow = known.length === 0;
  // with statements out, the long planning steps let their answers in now and then
  const slices = new Slices(PLANNING_SLICE_MS, () => (writeNow ? writing.flushed() : Promise.resolve()));
  let companyCounts: Promise<UpsertCounts> | undefined;
  let peopleCounts: Promise<UpsertCounts> | undefined;
  let people: PersonPlan;
  let positions: PositionPlan;
  try {
    if (writeNow) {
      companyCounts = writing.next(counts('crm.companies', COMPANY_FIELDS, companies.plan));
      // a turn of the event loop, for the insert to reach the database before the planning takes the thread
      await writing.flushed();
    }
    const stored = await storedPeople;
    people = await planPeople(items, companies.idOfItem, stored);
    if (writeNow) {
      peopleCounts = writePeople(people);
      await writing.flushed();
    }
    // in slices: the people go out as soon as the companies have answered
    positions = await planPositions(items, companies.idOfItem, people.idOfItem, stored, slices);
    // between planning steps, a statement that has answered lets the next one go
    if (writeNow) await writing.flushed();
  } catch (error) {
    // never leave a statement running on the transaction behind the error
    await writing.settled();
    throw error;
  }
  if (!writeNow) {
    const involved = implicated(known, companies, people, positions);
    if (involved.size > 0) return involved;
    companyCounts = writing.next(counts('crm.companies', COMPANY_FIELDS, companies.plan));
    peopleCounts = writePeople(people);
  }

  // New positions only: the units are labelled while the statements before the positions run; should the
  // positions' turn come first, those outside the units that need a label go then, and the rest after, with
  // their unit's label. A stored position's label must be settled before it is compared.
  const newOnly = positions.plan.updates.length === 0 && positions.plan.unchanged.length === 0;
  let positionPlan: Writes<PositionRow & Label>;
  let labels: Map<string, Label>;
  let units: ReturnType<typeof labelUnits> | undefined;
  let needing: NormalisedItem[][];
  try {
    labels = await labelPositions(items, fingerprints, companies, people, positions, slices);
    await writing.flushed();
    needing = unitsNeedingLabels(items, companies, people, positions, labels);
    if (!newOnly) {
      units = labelUnits(needing, fingerprints, companies, people, positions, known);
      for (const [id, label] of units.unitLabels) labels.set(id, label);
    }
    positionPlan = labelledPositions(positions, labels, new Set(known.map((k) => k.positionId)));
  } catch (error) {
    await writing.settled();
    throw error;
  }
  const positionIdentity: FieldSpec<PositionRow & Label>[] = [
    { column: 'company_id', type: 'uuid', key: 'companyId' },
    { column: 'person_id', type: 'uuid', key: 'personId' },
  ];
  const positionFields = [
    ...(POSITION_FIELDS as FieldSpec<PositionRow & Label>[]),
    ...(LABEL_FIELDS as FieldSpec<PositionRow & Label>[]),
  ];
  let positionCounts: Promise<UpsertCounts>;
  if (units) {
    positionCounts = writing.next(counts('crm.positions', positionFields, positionPlan, positionIdentity));
  } else {
    // the positions of units that need a label wait for it; the others go now, with a label of their own
    const waiting = new Set<string>();
    for (const unit of needing) for (const item of unit) waiting.add(positions.idOfItem.get(item)!);
    const now = positionPlan.inserts.filter((row) => !waiting.has(row.id));
    const later = positionPlan.inserts.filter((row) => waiting.has(row.id));
    const allFields = [...positionIdentity, ...positionFields];
    const firstInsert = insertStatement('crm.positions', organisationId, allFields, now);
    // all of them in one statement instead, when the units are labelled before the positions' turn comes
    let whole: BulkStatement | undefined;
    let sent = false;
    const first = writing.next(() => {
      sent = true;
      return runInsert(em, whole ?? firstInsert);
    });
    try {
      // while the database inserts those (or the people before them)
      await writing.flushed();
      units = labelUnits(needing, fingerprints, companies, people, positions, known);
    } catch (error) {
      await writing.settled();
      throw error;
    }
    // a unit that cannot be labelled leaves its positions their own labels
    for (const row of later) {
      const label = units.unitLabels.get(row.id);
      if (label) Object.assign(row, label);
    }
    let second: Promise<void> | undefined;
    if (!sent) whole = insertStatement('crm.positions', organisationId, allFields, positionPlan.inserts);
    else {
      const secondInsert = insertStatement('crm.positions', organisationId, allFields, later);
      second = writing.next(() => runInsert(em, secondInsert));
    }
    positionCounts = Promise.all([first, second]).then(() => ({
      created: positionPlan.inserts.length,
      updated: 0,
      unchanged: 0,
    }));
    positionCounts.catch(() => undefined);
  }
  const unitMembers = units.members;
  const after = writing.next(() => saveUnitMembers(em, organisationId, unitMembers));
  let result: Counts;
  try {
    result = {
      companies: await companyCounts!,
      people: await peopleCounts!,
      positions: await positionCounts,
    };
    await after;
  } finally {
    // the unit members too, and every statement before an error
    await writing.settled();
  }
  const rowSet = (plan: { rows: Map<string, unknown> }) => new Set(plan.rows.keys());
  const rows = {
    companies: rowSet(companies.plan),
    people: rowSet(people.plan),
    positions: rowSet(positions.plan),
  };
  return {
    counts: result,
    rows,
    before: { companies: rows.companies.size, people: rows.people.size, positions: rows.positions.size },
  };
}

function none(): UpsertCounts {
  return { created: 0, updated: 0, unchanged: 0 };
}

/**
 * The statements of one transaction, each sent once the one before it has answered (a connection runs one
 * at a time). A statement after a failed one is never sent: it fails with the same error.
 */
class Statements {
  private last: Promise<unknown> = Promise.resolve();

  next<T>(statement: () => Promise<T>): Promise<T> {
    const sent = this.last.then(statement);
    this.last = sent;
    // its failure is reported where it is awaited, not as an unhandled rejection meanwhile
    sent.catch(() => undefined);
    return sent;
  }

  /** A turn of the event loop, for what was sent to reach the database before planning takes the thread. */
  flushed(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  /** Once every statement has answered or failed. */
  async settled(): Promise<void> {
    await this.last.catch(() => undefined);
  }
}
