// One company and its positions.
import { Arg, Authorized, Ctx, FieldResolver, ID, Query, Resolver, Root } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { groupByKeys, type RequestContext } from '../../../lib/graphql/context.ts';
import { Company } from '../entities/company.entity.ts';
import { Position } from '../entities/position.entity.ts';

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

  @FieldResolver(() => [Position])
  async positions(@Root() company: Company, @Ctx() ctx: RequestContext): Promise<Position[]> {
    const rows = await ctx
      .loader<string, Position[]>('Company.positions', async (ids, em) => {
        const positions = await em.find(
          Position,
          { company: { $in: [...ids] } },
          { populate: ['person'], orderBy: { createdAt: 'asc', id: 'asc' } },
        );
        return groupByKeys(ids, positions, (p) => p.company.id);
      })
      .load(company.id);
    return rows ?? [];
  }
}
