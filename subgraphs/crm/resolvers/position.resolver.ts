// Reading prospects: the positions list (keyset pages, search, filters), one position, its suppression.
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { numbered } from '../../../lib/db/tenant-transaction.ts';
import { badInput } from '../../../lib/errors.ts';
import type { RequestContext } from '../../../lib/graphql/context.ts';
import { cursorOf, keyset, pageSize } from '../../../lib/graphql/cursor.ts';
import { PositionConnection } from '../entities/connection.ts';
import { Position } from '../entities/position.entity.ts';
import { PositionFilter } from '../inputs/position-filter.input.ts';
import { suppressedEmails } from '../services/suppression.service.ts';
import { POSITION_COLUMNS, POSITION_FROM, type PositionRow, positionOf } from './position-rows.ts';

function escapeLike(term: string): string {
  return term.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * The search condition on positions `p`: the email, the company name or the person's name contains the
 * term, ignoring case and accents. crm.search_positions (migration 0007) runs it on the trigram indexes,
 * which row-level security would otherwise keep out of the plan.
 */
export function positionSearch(search: string): { sql: string; params: string[] } {
  // PostgreSQL text cannot hold NUL, and no name or email holds a control character
  if (/\p{Cc}/u.test(search))
    throw badInput('filter.search contains control characters', { field: 'filter.search' });
  if (search.length > 200) throw badInput('filter.search is too long', { field: 'filter.search' });
  return {
    sql: 'p.id IN (SELECT s.id FROM crm.search_positions(?) s)',
    params: [`%${escapeLike(search)}%`],
  };
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
    const identity = requireAccess(ctx.identity, 'read');
    const limit = pageSize(first);
    // the caller's organisation: the first wall, row-level security the second
    const where: string[] = ['p.organisation_id = ?'];
    const params: unknown[] = [identity.organisationId];
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
      const condition = positionSearch(search);
      where.push(condition.sql);
      params.push(...condition.params);
    }
    const filtered = where.join(' AND ');
    const page = keyset('p', after);
    // the page and its companies and people in one statement; the count only when it is not known already
    const rows = await ctx.sql<PositionRow & { cursor_created_at: string }>(
      numbered(`SELECT ${POSITION_COLUMNS}, ${page.createdAtText} FROM ${POSITION_FROM}
       WHERE ${filtered} AND ${page.where} ORDER BY ${page.orderBy} LIMIT ?`),
      [...params, ...page.params, limit + 1],
    );
    const known = !after && rows.length <= limit;
    const count = async () => {
      const [row] = await ctx.sql<{ count: string }>(
        numbered(`SELECT count(*) AS count FROM crm.positions p WHERE ${filtered}`),
        params,
      );
      return Number(row!.count);
    };
    const edges = rows.slice(0, limit).map((row) => {
      const node = positionOf(row);
      return { cursor: cursorOf({ id: node.id, cursor_created_at: row.cursor_created_at }), node };
    });
    return {
      edges,
      pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null },
      // counted only when the field is asked for and the page does not tell it already
      get totalCount() {
        return known ? rows.length : count();
      },
    };
  }

  @Authorized('read')
  @Query(() => Position, { nullable: true })
  async position(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Position | null> {
    const identity = requireAccess(ctx.identity, 'read');
    if (!isUuid(id)) return null;
    const [row] = await ctx.sql<PositionRow>(
      `SELECT ${POSITION_COLUMNS} FROM ${POSITION_FROM} WHERE p.id = $1 AND p.organisation_id = $2`,
      [id, identity.organisationId],
    );
    return row ? positionOf(row) : null;
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
