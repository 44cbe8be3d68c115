// The suppression list: emails and whole domains that must never be emailed.
import { randomUUID } from 'node:crypto';
import { Arg, Authorized, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { rawQuery } from '../../../lib/db/orm.ts';
import { badInput, notFound } from '../../../lib/errors.ts';
import type { RequestContext } from '../../../lib/graphql/context.ts';
import { cursorLoader, inOrder, keysetPage, pageSize } from '../../../lib/graphql/cursor.ts';
import { normaliseEmail } from '../../../lib/validation/email.ts';
import { Suppression, SuppressionReason } from '../entities/suppression.entity.ts';

const TABLE = 'crm.suppressions';
const DOMAIN = /^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** An email address, or a domain (optionally written "@acme.fr"), normalised; else BAD_USER_INPUT. */
export function parseSuppressionValue(value: string): { value: string; kind: 'EMAIL' | 'DOMAIN' } {
  const trimmed = value.trim().toLowerCase();
  if (trimmed.includes('@') && !trimmed.startsWith('@')) {
    const email = normaliseEmail(trimmed);
    if (!email) throw badInput('value is neither a valid email address nor a domain', { field: 'value' });
    return { value: email, kind: 'EMAIL' };
  }
  const domain = trimmed.replace(/^@/, '');
  if (!DOMAIN.test(domain))
    throw badInput('value is neither a valid email address nor a domain', { field: 'value' });
  return { value: domain, kind: 'DOMAIN' };
}

@Resolver(() => Suppression)
export class SuppressionResolver {
  @Authorized('write')
  @Mutation(() => Suppression, {
    description: 'Suppresses an email or a whole domain; adding one twice returns the first',
  })
  async addSuppression(
    @Arg('value', () => String) value: string,
    @Arg('reason', () => SuppressionReason) reason: SuppressionReason,
    @Ctx() ctx: RequestContext,
  ): Promise<Suppression> {
    const identity = requireAccess(ctx.identity, 'write');
    const parsed = parseSuppressionValue(value);
    const em = await ctx.em();
    await rawQuery(
      em,
      `INSERT INTO crm.suppressions (organisation_id, id, value, kind, reason) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (organisation_id, value) DO NOTHING`,
      [identity.organisationId, randomUUID(), parsed.value, parsed.kind, reason],
    );
    return em.findOneOrFail(Suppression, { value: parsed.value });
  }

  @Authorized('read')
  @Query(() => [Suppression], {
    description: 'Newest first; `after` is the `cursor` of the last suppression already seen',
  })
  async suppressions(
    @Arg('first', () => Int, { nullable: true }) first: number | undefined,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Suppression[]> {
    requireAccess(ctx.identity, 'read');
    const limit = pageSize(first, 100, 1000);
    const ids = await keysetPage(ctx, { table: TABLE, after, order: 'desc', limit });
    const em = await ctx.em();
    return inOrder(ids, await em.find(Suppression, { id: { $in: ids } }));
  }

  @FieldResolver(() => String, { description: 'Pass as `after` to read the suppressions after this one' })
  async cursor(@Root() suppression: Suppression, @Ctx() ctx: RequestContext): Promise<string> {
    const cursor = await cursorLoader(ctx, TABLE).load(suppression.id);
    if (!cursor) throw notFound('Suppression');
    return cursor;
  }
}
