// One company and its positions.
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { type EntityManager, isUuid, rawQuery } from '../../../lib/db/orm.ts';
import { badInput } from '../../../lib/errors.ts';
import { groupByKeys, type RequestContext } from '../../../lib/graphql/context.ts';
import { type CursorKey, decodeCursor, pageSize } from '../../../lib/graphql/cursor.ts';
import { Company } from '../entities/company.entity.ts';
import { Position } from '../entities/position.entity.ts';

const DEFAULT_PAGE = 50;
const MAX_PAGE = 100;

@Resolver(() => Company)
export class CompanyResolver {
  @Authorized('read')
  @Query(() => Company, { nullable: true })
  async company(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Company | null> {
    requireAccess(ctx.identity, 'read');
    if (!isUuid(id)) return null;
    const em = await ctx.em();
    return em.findOne(Company, { id });
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
    // one query per page shape for all the companies of the request
    const rows = await ctx
      .loader<string, Position[]>(`Company.positions:${limit}:${after ?? ''}`, async (ids, em) => {
        const key = after ? await afterKey(em, after) : undefined;
        const page = await rawQuery<{ id: string; company_id: string }>(
          em,
          `SELECT p.id, p.company_id FROM unnest(?::uuid[]) AS c(id) CROSS JOIN LATERAL (
             SELECT id, company_id, created_at FROM crm.positions
             WHERE organisation_id = current_organisation_id() AND company_id = c.id
               ${key ? 'AND (created_at, id) > (?::timestamptz, ?::uuid)' : ''}
             ORDER BY created_at, id LIMIT ?) p
           ORDER BY p.company_id, p.created_at, p.id`,
          key ? [[...ids], key.createdAt, key.id, limit] : [[...ids], limit],
        );
        const loaded = await em.find(
          Position,
          { id: { $in: page.map((r) => r.id) } },
          { populate: ['person'] },
        );
        const byId = new Map(loaded.map((p) => [p.id, p]));
        const ordered = page.flatMap((r) => byId.get(r.id) ?? []);
        return groupByKeys(ids, ordered, (p) => p.company.id);
      })
      .load(company.id);
    return rows ?? [];
  }
}

/** The keyset position after which a page starts: a position id, or a cursor from `positions`. */
async function afterKey(em: EntityManager, after: string): Promise<CursorKey> {
  if (!isUuid(after)) return decodeCursor(after);
  const [row] = await rawQuery<{ created: string }>(
    em,
    'SELECT created_at::text AS created FROM crm.positions WHERE id = ?',
    [after],
  );
  if (!row) throw badInput('after must be the id of a position from the previous page', { field: 'after' });
  return { createdAt: row.created, id: after };
}
