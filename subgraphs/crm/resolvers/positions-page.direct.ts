// The prospects page, `positions(first, after) { edges { cursor node { … person { … } company { … } } }
// pageInfo { … } }`, answered in one statement whose result is the answer's JSON, built by PostgreSQL with
// only the fields asked for: no rows parsed, no execution. Same rows, order, cursors and rules as
// PositionResolver.positions (over POSITION_FROM, position-rows.ts); a filter, totalCount, `suppressed` or a field whose printing differs
// (timestamps) is executed as usual.
import type { DocumentNode, OperationDefinitionNode } from 'graphql';
import { checkRequirement, type Requirement, requireIdentity } from '../../../lib/auth/identity.ts';
import { numbered } from '../../../lib/db/tenant-transaction.ts';
import { keyset, pageSize } from '../../../lib/graphql/cursor.ts';
import {
  argumentValue,
  jsonObjectSql,
  type PlainField,
  plainFields,
} from '../../../lib/graphql/direct-selection.ts';
import type { DirectAnswer, DirectPlanner } from '../../../lib/graphql/lean-executor.ts';

type Columns = Readonly<Record<string, string>>;

// Fields whose JSON from PostgreSQL is what execution prints: text, ids, integers, enums the table's CHECK
// holds to the enum's values. Timestamps (printed with milliseconds and `Z`) and floats are not.
const POSITION: Columns = {
  __typename: `'Position'`,
  id: 'p.id',
  jobTitle: 'p.job_title',
  email: 'p.email',
  emailStatus: 'p.email_status',
  emailReliability: 'p.email_reliability',
  pharowListName: 'p.pharow_list_name',
};

const PERSON: Columns = {
  __typename: `'Person'`,
  id: 'pe.id',
  firstName: 'pe.first_name',
  lastName: 'pe.last_name',
  salutation: 'pe.salutation',
  linkedinUrl: 'pe.linkedin_url',
  mobilePhone: 'pe.mobile_phone',
  location: 'pe.location',
  // fullNameOf: the names that are set, joined by a space
  fullName: `concat_ws(' ', nullif(pe.first_name, ''), nullif(pe.last_name, ''))`,
};

const COMPANY: Columns = {
  __typename: `'Company'`,
  id: 'c.id',
  pharowCompanyId: 'c.pharow_company_id',
  name: 'c.name',
  siren: 'c.siren',
  hqSiret: 'c.hq_siret',
  brandName: 'c.brand_name',
  domain: 'c.domain',
  websiteUrl: 'c.website_url',
  linkedinUrl: 'c.linkedin_url',
  mainPhone: 'c.main_phone',
  nafSector: 'c.naf_sector',
  nafCode: 'c.naf_code',
  activity: 'c.activity',
  foundingYear: 'c.founding_year',
  employeeCount: 'c.employee_count',
  employeeRange: 'c.employee_range',
  employeeMin: 'c.employee_min',
  employeeMax: 'c.employee_max',
  hqAddress: 'c.hq_address',
};

// encodeCursor: base64url of `created_at::text|id`, unpadded (PostgreSQL's base64 also wraps lines)
const CURSOR = `translate(encode(convert_to(p.created_at::text || '|' || p.id::text, 'UTF8'), 'base64'), E'+/=\\n', '-_')`;

/** A JSON object of leaf columns and nested objects, or undefined when a field is not one of them. */
function objectOf(
  fields: readonly PlainField[] | undefined,
  columns: Columns,
  nested: Record<string, (fields: PlainField[] | undefined) => string | undefined> = {},
): string | undefined {
  if (!fields?.length) return undefined;
  const entries: { key: string; sql: string }[] = [];
  for (const field of fields) {
    if (field.arguments.length) return undefined;
    let sql: string | undefined;
    if (field.selectionSet)
      sql = Object.hasOwn(nested, field.name)
        ? nested[field.name]!(plainFields(field.selectionSet))
        : undefined;
    else sql = Object.hasOwn(columns, field.name) ? columns[field.name] : undefined;
    if (sql === undefined) return undefined;
    entries.push({ key: field.key, sql });
  }
  return jsonObjectSql(entries);
}

/**
 * A position's person or company, read by its primary key for each row of the page. The references
 * (organisation_id, person_id / company_id, both NOT NULL, checked by migration 0070) make this the same
 * row POSITION_FROM's inner joins find; unlike a join, its plan does not depend on the tables' statistics,
 * which after a large ingest can be stale enough for the planner to scan a tenant's whole people list for
 * every row.
 */
const byKey = (object: string | undefined, table: string, alias: string, key: string) =>
  object &&
  `(SELECT ${object} FROM ${table} ${alias} WHERE ${alias}.organisation_id = p.organisation_id AND ${alias}.id = p.${key})`;

const nodeOf = (fields: PlainField[] | undefined) =>
  objectOf(fields, POSITION, {
    person: (f) => byKey(objectOf(f, PERSON), 'crm.people', 'pe', 'person_id'),
    company: (f) => byKey(objectOf(f, COMPANY), 'crm.companies', 'c', 'company_id'),
  });

/** `Query.positions` for callers `access` lets read it (its declared requirement). */
export function positionsPageDirect(access: Requirement): DirectPlanner {
  return (document: DocumentNode, operation: OperationDefinitionNode): DirectAnswer | undefined => {
    if (document.definitions.length !== 1 || operation.operation !== 'query') return undefined;
    const roots = plainFields(operation.selectionSet);
    if (roots?.length !== 1 || roots[0]!.name !== 'positions') return undefined;
    const positions = roots[0]!;
    const connection = plainFields(positions.selectionSet);
    if (!connection?.length) return undefined;

    // what each part of the answer needs from the page's rows (`n` numbers them in page order)
    let needsCursor = false;
    let needsNext = false;
    const parts: { key: string; sql: string }[] = [];
    for (const field of connection) {
      if (field.arguments.length) return undefined;
      if (field.name === '__typename' && !field.selectionSet) {
        parts.push({ key: field.key, sql: `'PositionConnection'` });
      } else if (field.name === 'edges') {
        const edge: { key: string; sql: string }[] = [];
        for (const e of plainFields(field.selectionSet) ?? [undefined]) {
          if (!e || e.arguments.length) return undefined;
          if (e.name === '__typename' && !e.selectionSet) edge.push({ key: e.key, sql: `'PositionEdge'` });
          else if (e.name === 'cursor' && !e.selectionSet) {
            needsCursor = true;
            edge.push({ key: e.key, sql: 'page.cursor' });
          } else if (e.name === 'node') {
            const node = nodeOf(plainFields(e.selectionSet));
            if (!node) return undefined;
            edge.push({ key: e.key, sql: 'page.node' });
            parts.push({ key: '\0node', sql: node });
          } else return undefined;
        }
        parts.push({
          key: field.key,
          sql: `(SELECT coalesce(json_agg(${jsonObjectSql(edge)} ORDER BY page.n), '[]'::json) FROM page WHERE page.n <= $limit)`,
        });
      } else if (field.name === 'pageInfo') {
        const info: { key: string; sql: string }[] = [];
        for (const i of plainFields(field.selectionSet) ?? [undefined]) {
          if (!i || i.arguments.length || i.selectionSet) return undefined;
          if (i.name === '__typename') info.push({ key: i.key, sql: `'PageInfo'` });
          else if (i.name === 'hasNextPage') {
            needsNext = true;
            info.push({ key: i.key, sql: '(SELECT count(*) > $limit FROM page)' });
          } else if (i.name === 'endCursor') {
            needsCursor = true;
            info.push({
              key: i.key,
              sql: '(SELECT page.cursor FROM page WHERE page.n <= $limit ORDER BY page.n DESC LIMIT 1)',
            });
          } else return undefined;
        }
        parts.push({ key: field.key, sql: jsonObjectSql(info) });
      } else return undefined;
    }
    const nodeSql = parts.find((p) => p.key === '\0node')?.sql;
    const answer = parts.filter((p) => p.key !== '\0node');
    if (!answer.length || parts.filter((p) => p.key === '\0node').length > 1) return undefined;
    const rootKey = JSON.stringify(positions.key);
    // by page size (at most 500, pageSize) and cursor or not: bounded
    const statements = new Map<string, string>();

    return async (variables, context) => {
      const args = positions.arguments;
      if (args.some((a) => !['first', 'after', 'filter'].includes(a.name.value))) return undefined;
      const filter = argumentValue(args, 'filter', variables)?.value;
      const first = argumentValue(args, 'first', variables)?.value;
      const after = argumentValue(args, 'after', variables)?.value;
      if (
        (filter !== undefined && filter !== null) ||
        (after !== undefined && after !== null && typeof after !== 'string')
      )
        return undefined;
      let limit: number;
      let page: ReturnType<typeof keyset>;
      try {
        checkRequirement(context.identity, access);
        limit = pageSize(first as number | null | undefined);
        page = keyset('p', after as string | null | undefined);
      } catch {
        // refused, or arguments execution words an error for
        return undefined;
      }
      const organisationId = requireIdentity(context.identity).organisationId;
      // the statement depends only on the page size and on whether a cursor is given: built once for each,
      // so the same text (and the statement PostgreSQL keeps prepared for it) serves every caller. The limit
      // is written into it: as a parameter, the planner prices a generic plan for a tenth of the tenant's
      // rows rather than one page, and so plans the statement afresh on every call (0.2–0.4 ms of
      // PostgreSQL CPU, as much as running it)
      const shape = `${limit}${page.params.length ? '>' : ''}`;
      let sql = statements.get(shape);
      if (sql === undefined) {
        const select = [`row_number() OVER (ORDER BY ${page.orderBy}) AS n`];
        if (nodeSql) select.push(`${nodeSql} AS node`);
        if (needsCursor) select.push(`${CURSOR} AS cursor`);
        sql = numbered(`WITH page AS (SELECT ${select.join(', ')} FROM crm.positions p
          WHERE p.organisation_id = ? AND ${page.where} ORDER BY ${page.orderBy} LIMIT ${needsNext ? limit + 1 : limit})
        SELECT ${jsonObjectSql(answer).replaceAll('$limit', String(limit))}::text AS data`);
        statements.set(shape, sql);
      }
      const [row] = await context.sql<{ data: string }>(sql, [organisationId, ...page.params]);
      return `{${rootKey}:${row!.data}}`;
    };
  };
}
