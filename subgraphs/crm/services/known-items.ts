// Raw Pharow items the organisation already has, recognised by a fingerprint of their JSON before anything is
// normalised or matched: a repeat of unchanged items costs one indexed look-up instead of the whole pipeline.
//
// A position remembers the raw item that alone described it, its company and its person (migration 0012),
// with the source hashes those three rows had then. While the rows still carry them, the full pipeline
// would find all three unchanged for that item, so the ingest can count them unchanged without parsing it.
import { hash } from 'node:crypto';
import { binaryArray } from '../../../lib/db/binary-array.ts';
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';

// Part of every fingerprint: a change to how items are normalised must make every remembered item unknown.
export const NORMALISATION_VERSION = '1';

/** Fingerprint of one raw item as received (null for anything that is not an object: it is rejected). */
export function rawFingerprint(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  return hash('sha1', `${NORMALISATION_VERSION}\u0000${JSON.stringify(raw)}`, 'base64url');
}

/** The item_rows stamp: the company's, person's and position's source hashes when the item was remembered. */
export function rowsStamp(companyHash: string, personHash: string, positionHash: string): string {
  return hash('md5', companyHash + personHash + positionHash, 'hex');
}

/** A remembered item's rows, with the identity keys the ingest matches on (they are the item's own). */
export interface KnownItem {
  positionId: string;
  companyId: string;
  personId: string;
  email: string | null;
  company: { pharowCompanyId: string | null; siren: string | null; domain: string | null; name: string };
  person: { linkedinUrl: string | null; nameKey: string | null };
}

/** The hash a unit of items is labelled with (migration 0050): of its items' fingerprints, in batch order. */
export function unitHash(fingerprints: string[]): string {
  return `u:${hash('sha1', `${NORMALISATION_VERSION}\u0000${fingerprints.join(',')}`, 'base64url')}`;
}

/** A unit's member as remembered: the unit it belongs to and how many positions carry that unit's label. */
export interface UnitMember {
  unitHash: string;
  positions: number;
}

/** The units these fingerprints were last remembered in, by fingerprint. */
export async function loadUnitMembers(
  em: EntityManager,
  organisationId: string,
  fingerprints: string[],
): Promise<Map<string, UnitMember>> {
  if (fingerprints.length === 0) return new Map();
  const rows = await rawQuery<UnitMember & { itemHash: string }>(
    em,
    `SELECT item_hash AS "itemHash", unit_hash AS "unitHash", positions FROM crm.ingest_items
     WHERE organisation_id = ? AND item_hash COLLATE "C" = ANY(?::text[])`,
    [organisationId, binaryArray('text', fingerprints)],
  );
  return new Map(rows.map((r) => [r.itemHash, { unitHash: r.unitHash, positions: r.positions }]));
}

/** Remembers each member item's unit (an item's latest unit replaces an earlier one). */
export async function saveUnitMembers(
  em: EntityManager,
  organisationId: string,
  members: Map<string, UnitMember>,
): Promise<void> {
  if (members.size === 0) return;
  const entries = [...members];
  await rawQuery(
    em,
    `INSERT INTO crm.ingest_items (organisation_id, item_hash, unit_hash, positions)
     SELECT ?::uuid, u.* FROM unnest(?::text[], ?::text[], ?::int[]) AS u
     ON CONFLICT (organisation_id, item_hash)
       DO UPDATE SET unit_hash = excluded.unit_hash, positions = excluded.positions`,
    [
      organisationId,
      binaryArray(
        'text',
        entries.map(([h]) => h),
      ),
      binaryArray(
        'text',
        entries.map(([, m]) => m.unitHash),
      ),
      binaryArray(
        'int',
        entries.map(([, m]) => m.positions),
      ),
    ],
  );
}

/** Why an item was refused, without its place in a batch. */
export interface RememberedRejection {
  field: string;
  message: string;
}

/** Items among these fingerprints refused before, with their rejections, by fingerprint. */
export async function loadRejected(
  em: EntityManager,
  organisationId: string,
  fingerprints: string[],
): Promise<Map<string, RememberedRejection[]>> {
  if (fingerprints.length === 0) return new Map();
  const rows = await rawQuery<{ itemHash: string; rejections: RememberedRejection[] }>(
    em,
    `SELECT item_hash AS "itemHash", rejections FROM crm.ingest_rejected
     WHERE organisation_id = ? AND item_hash COLLATE "C" = ANY(?::text[])`,
    [organisationId, binaryArray('text', fingerprints)],
  );
  return new Map(rows.map((r) => [r.itemHash, r.rejections]));
}

/** Remembers refused items (one already remembered keeps its row: the same item is refused the same way). */
export async function saveRejected(
  em: EntityManager,
  organisationId: string,
  rejected: Map<string, RememberedRejection[]>,
): Promise<void> {
  if (rejected.size === 0) return;
  const entries = [...rejected];
  await rawQuery(
    em,
    `INSERT INTO crm.ingest_rejected (organisation_id, item_hash, rejections)
     SELECT ?::uuid, u.h, u.r::jsonb FROM unnest(?::text[], ?::text[]) AS u(h, r)
     ON CONFLICT (organisation_id, item_hash) DO NOTHING`,
    [
      organisationId,
      binaryArray(
        'text',
        entries.map(([h]) => h),
      ),
      binaryArray(
        'text',
        entries.map(([, r]) => JSON.stringify(r)),
      ),
    ],
  );
}

/**
 * A position's company or person, looked up by primary key for each position. The LIMIT keeps it a look-up
 * per row whatever the statistics say: joined plainly, an organisation the statistics do not know yet is
 * estimated at one row on each side, and the planner scans all of its companies for every position.
 */
export function rowByKey(table: 'companies' | 'people', key: string, columns: string): string {
  return `SELECT ${columns} FROM crm.${table} r WHERE r.organisation_id = pos.organisation_id AND r.id = pos.${key} LIMIT 1`;
}

/**
 * The positions labelled with some hashes (`?` the organisation, `?` the hashes) whose company, person and
 * position still carry the source hashes the label was made with.
 */
export const KNOWN_ITEMS_QUERY = `SELECT pos.item_hash AS "itemHash", pos.id AS "positionId", pos.company_id AS "companyId",
          pos.person_id AS "personId", pos.email::text AS email,
          c.pharow_company_id AS "pharowCompanyId", c.siren, c.domain::text AS domain, c.name,
          p.linkedin_url AS "linkedinUrl", p.name_key AS "nameKey"
   FROM crm.positions pos
   CROSS JOIN LATERAL (${rowByKey('companies', 'company_id', 'pharow_company_id, siren, domain, name, source_hash')}) c
   CROSS JOIN LATERAL (${rowByKey('people', 'person_id', 'linkedin_url, name_key, source_hash')}) p
   WHERE pos.organisation_id = ? AND pos.item_hash COLLATE "C" = ANY(?::text[])
     AND pos.item_rows = md5(c.source_hash || p.source_hash || pos.source_hash)`;

/**
 * Positions labelled with these hashes (a raw item's fingerprint, or a unit's hash) whose rows are still as
 * the labelling ingest left them, by hash: one position per item, several per unit.
 */
export async function loadKnownItems(
  em: EntityManager,
  organisationId: string,
  fingerprints: string[],
): Promise<Map<string, KnownItem[]>> {
  if (fingerprints.length === 0) return new Map();
  const rows = await rawQuery<
    KnownItem['company'] &
      KnownItem['person'] & {
        itemHash: string;
        positionId: string;
        companyId: string;
        personId: string;
        email: string | null;
      }
  >(em, KNOWN_ITEMS_QUERY, [organisationId, binaryArray('text', fingerprints)]);
  const known = new Map<string, KnownItem[]>();
  for (const r of rows) {
    const list = known.get(r.itemHash) ?? [];
    known.set(r.itemHash, list);
    list.push({
      positionId: r.positionId,
      companyId: r.companyId,
      personId: r.personId,
      email: r.email,
      company: { pharowCompanyId: r.pharowCompanyId, siren: r.siren, domain: r.domain, name: r.name },
      person: { linkedinUrl: r.linkedinUrl, nameKey: r.nameKey },
    });
  }
  return known;
}
