// One company and its positions.
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { numbered } from '../../../lib/db/tenant-transaction.ts';
import { badInput } from '../../../lib/errors.ts';
import { groupByKeys, type RequestContext } from '../../../lib/graphql/context.ts';
import { type CursorKey, decodeCursor, pageSize } from '../../../lib/graphql/cursor.ts';
import { Company } from '../entities/company.entity.ts';
import { Position } from '../entities/position.entity.ts';
import { COMPANY_JSON, POSITION_COLUMNS, type PositionRow, positionOf } from './position-rows.ts';

const DEFAULT_PAGE = 50;
const MAX_PAGE = 100;

@Resolver(() => Company)
export class CompanyResolver {
  @Authorized('read')
  @Query(() => Company, { nullable: true })
  async company(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Company | null> {
    const identity = requireAccess(ctx.identity, 'read');
    if (!isUuid(id)) return null;
    const [row] = await ctx.sql<{ company: Company }>(
      `SELECT ${COMPANY_JSON} AS company FROM crm.companies c WHERE c.id = $1 AND c.organisation_id = $2`,
      [id, identity.organisationId],
    );
    return row?.company ?? null;
  }

  @FieldResolver(() => [Position], {
    description: `Oldest first, at most ${MAX_PAGE} a page (${DEFAULT_PAGE} without first); \`after\` is the id of the last position already seen, or a cursor from \`positions\``,
  })
  async positions(
    @Root() company: Company,
    @Arg('first', () => Int, { nullable: true }) first: number | undefined,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Position[]> {
    const limit = pageSize(first, DEFAULT_PAGE, MAX_PAGE);
    const organisationId = requireAccess(ctx.identity, 'read').organisationId;
    // one statement per page shape for all the companies of the request, company and person joined in
    const rows = await ctx
      .sqlLoader<string, Position[]>(`Company.positions:${limit}:${after ?? ''}`, async (ids) => {
        const key = after ? await afterKey(ctx, organisationId, after) : undefined;
        const page = await ctx.sql<PositionRow>(
          numbered(`SELECT ${POSITION_COLUMNS} FROM unnest(?::uuid[]) AS k(id) CROSS JOIN LATERAL (
             SELECT * FROM crm.positions
             WHERE organisation_id = ? AND company_id = k.id
               ${key ? 'AND (created_at, id) > (?::timestamptz, ?::uuid)' : ''}
             ORDER BY created_at, id LIMIT ?) p
           JOIN crm.companies c ON c.organisation_id = p.organisation_id AND c.id = p.company_id
           JOIN crm.people pe ON pe.organisation_id = p.organisation_id AND pe.id = p.person_id
           ORDER BY p.company_id, p.created_at, p.id`),
          key ? [[...ids], organisationId, key.createdAt, key.id, limit] : [[...ids], organisationId, limit],
        );
        return groupByKeys(ids, page.map(positionOf), (p) => p.company.id);
      })
      .load(company.id);
    return rows ?? [];
  }
}

/** The keyset position after which a page starts: a position id, or a cursor from `positions`. */
async function afterKey(ctx: RequestContext, organisationId: string, after: string): Promise<CursorKey> {
  if (!isUuid(after)) return decodeCursor(after);
  const [row] = await ctx.sql<{ created: string }>(
    'SELECT created_at::text AS created FROM crm.positions WHERE id = $1 AND organisation_id = $2',
    [after, organisationId],
  );
  if (!row) throw badInput('after must be the id of a position from the previous page', { field: 'after' });
  return { createdAt: row.created, id: after };
}
