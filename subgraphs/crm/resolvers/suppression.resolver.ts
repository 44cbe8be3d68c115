// The suppression list: emails and whole domains that must never be emailed.
import { randomUUID } from 'node:crypto';
import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { isUuid, rawQuery } from '../../../lib/db/orm.ts';
import { badInput } from '../../../lib/errors.ts';
import type { RequestContext } from '../../../lib/graphql/context.ts';
import { pageSize } from '../../../lib/graphql/cursor.ts';
import { normaliseEmail } from '../../../lib/validation/email.ts';
import { Suppression, SuppressionReason } from '../entities/suppression.entity.ts';

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
    description: 'Newest first; `after` is the id of the last suppression already seen',
  })
  async suppressions(
    @Arg('first', () => Int, { nullable: true }) first: number | undefined,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Suppression[]> {
    requireAccess(ctx.identity, 'read');
    const limit = pageSize(first, 100, 1000);
    const em = await ctx.em();
    const where: Record<string, unknown> = {};
    if (after) {
      // `after` is the id of the last suppression of the previous page
      const last = isUuid(after) ? await em.findOne(Suppression, { id: after }) : null;
      if (!last)
        throw badInput('after must be the id of a suppression from the previous page', { field: 'after' });
      where.$or = [
        { createdAt: { $lt: last.createdAt } },
        { createdAt: last.createdAt, id: { $lt: last.id } },
      ];
    }
    return em.find(Suppression, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit });
  }
}
