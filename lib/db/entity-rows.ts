// Entities read as plain rows for hot read paths: the select list comes from the ORM's metadata, so a row
// carries the entity's property names with the driver's values, a many-to-one as `{ id }`, and a property
// added to an entity is read without anyone editing SQL. No hydration, no identity map, no class instance:
// GraphQL reads plain properties, and getters are called on the row (lib/graphql/federation.ts).
import type { EntityName, MikroORM } from '@mikro-orm/postgresql';

export interface EntityTable {
  /** Schema-qualified table aliased as asked: `outreach.campaigns t`. */
  from: string;
  /** Select list of every eagerly loaded column, aliased to its property name. */
  columns: string;
}

const tables = new WeakMap<MikroORM, Map<string, EntityTable>>();

function quoted(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** How to read `entity` as plain rows from the table aliased `alias` (built once per ORM, entity and alias). */
export function entityTable(orm: MikroORM, entity: EntityName<any>, alias = 't'): EntityTable {
  const meta = orm.getMetadata().find(entity);
  if (!meta) throw new Error(`${String(entity)} is not an entity of this ORM`);
  let byName = tables.get(orm);
  if (!byName) {
    byName = new Map();
    tables.set(orm, byName);
  }
  const key = `${meta.className} ${alias}`;
  const known = byName.get(key);
  if (known) return known;
  const columns: string[] = [];
  for (const prop of meta.props) {
    // lazy columns (credentials...) are never part of a read that did not ask for them
    if (prop.lazy || prop.persist === false || prop.formula || prop.fieldNames?.length !== 1) continue;
    const column = `${alias}.${quoted(prop.fieldNames[0]!)}`;
    if (prop.kind === 'scalar') columns.push(`${column} AS ${quoted(prop.name)}`);
    // a reference is its id, the way an unloaded ORM reference reads (`step.campaign.id`)
    else if (prop.kind === 'm:1') columns.push(`json_build_object('id', ${column}) AS ${quoted(prop.name)}`);
  }
  const schema = meta.schema ?? orm.config.get('schema');
  const table: EntityTable = {
    from: `${schema ? `${quoted(schema)}.` : ''}${quoted(meta.tableName)} ${alias}`,
    columns: columns.join(', '),
  };
  byName.set(key, table);
  return table;
}
