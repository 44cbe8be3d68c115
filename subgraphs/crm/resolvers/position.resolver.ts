// Reading prospects: the positions list (keyset pages, search, filters), one position, its suppression.
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { isUuid, rawQuery } from '../../../lib/db/orm.ts';
import { badInput } from '../../../lib/errors.ts';
import type { RequestContext } from '../../../lib/graphql/context.ts';
import { decodeCursor, encodeCursor, pageSize } from '../../../lib/graphql/cursor.ts';
import { PositionConnection } from '../entities/connection.ts';
import { Position } from '../entities/position.entity.ts';
import { PositionFilter } from '../inputs/position-filter.input.ts';
import { suppressedEmails } from '../services/suppression.service.ts';

function escapeLike(term: string): string {
  return term.replace(/[\\%_]/g, (c) => `\\${c}`);
}

@Resolver(() => Position)
export class PositionResolver {
  @Authorized('read')
  @Query(() => PositionConnection)
  async positions(
    @Arg('first', () => Int, { nullable: true }) first: number | undefined,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
    @Arg('filter', () => PositionFilter, { nullable: true }) filter: PositionFilter | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<PositionConnection> {
    requireAccess(ctx.identity, 'read');
    const limit = pageSize(first);
    const where: string[] = ['p.organisation_id = current_organisation_id()'];
    const params: unknown[] = [];
    if (filter?.companyId) {
      if (!isUuid(filter.companyId))
        throw badInput('filter.companyId is not a valid id', { field: 'filter.companyId' });
      where.push('p.company_id = ?');
      params.push(filter.companyId);
    }
    if (filter?.emailStatus?.length) {
      where.push('p.email_status = ANY(?::text[])');
      params.push(filter.emailStatus);
    }
    const search = filter?.search?.trim();
    if (search) {
      if (search.length > 200) throw badInput('filter.search is too long', { field: 'filter.search' });
      const like = `%${escapeLike(search)}%`;
      where.push(`(p.email::text ILIKE ? OR c.name ILIKE ?
        OR (coalesce(pe.first_name, '') || ' ' || coalesce(pe.last_name, '')) ILIKE ?)`);
      params.push(like, like, like);
    }
    const filtered = where.join(' AND ');
    const from = `crm.positions p JOIN crm.companies c ON c.organisation_id = p.organisation_id AND c.id = p.company_id
      JOIN crm.people pe ON pe.organisation_id = p.organisation_id AND pe.id = p.person_id`;
    const pageWhere = [filtered];
    const pageParams = [...params];
    if (after) {
      const cursor = decodeCursor(after);
      pageWhere.push('(p.created_at, p.id) > (?::timestamptz, ?::uuid)');
      pageParams.push(cursor.createdAt, cursor.id);
    }
    const em = await ctx.em();
    const rows = await rawQuery<{ id: string; created: string }>(
      em,
      `SELECT p.id, p.created_at::text AS created FROM ${from} WHERE ${pageWhere.join(' AND ')}
       ORDER BY p.created_at, p.id LIMIT ?`,
      [...pageParams, limit + 1],
    );
    const [{ count }] =
      after || rows.length > limit
        ? await rawQuery<{ count: string }>(
            em,
            `SELECT count(*) AS count FROM ${from} WHERE ${filtered}`,
            params,
          )
        : [{ count: String(rows.length) }];
    const page = rows.slice(0, limit);
    const ids = page.map((r) => r.id);
    const positions = await em.find(Position, { id: { $in: ids } }, { populate: ['company', 'person'] });
    const byId = new Map(positions.map((p) => [p.id, p]));
    const edges = page.map((r) => ({
      cursor: encodeCursor({ createdAt: r.created, id: r.id }),
      node: byId.get(r.id)!,
    }));
    return {
      edges,
      pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null },
      totalCount: Number(count),
    };
  }

  @Authorized('read')
  @Query(() => Position, { nullable: true })
  async position(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Position | null> {
    requireAccess(ctx.identity, 'read');
    if (!isUuid(id)) return null;
    const em = await ctx.em();
    return em.findOne(Position, { id }, { populate: ['company', 'person'] });
  }

  @FieldResolver(() => Boolean, { description: 'Whether the email or its domain is on the suppression list' })
  async suppressed(@Root() position: Position, @Ctx() ctx: RequestContext): Promise<boolean> {
    if (!position.email) return false;
    const email = position.email;
    const result = await ctx
      .loader<string, boolean>('Position.suppressed', async (emails, em) => {
        const hits = await suppressedEmails(em, emails);
        return emails.map((e) => hits.has(e.toLowerCase()));
      })
      .load(email);
    return result ?? false;
  }
}
