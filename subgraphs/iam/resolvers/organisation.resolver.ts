// The caller's organisation, its members, and the caller.
import { Arg, Authorized, Ctx, FieldResolver, Int, Query, Resolver, Root } from 'type-graphql';
import { requireIdentity, requireUser } from '../../../lib/auth/identity.ts';
import { notFound } from '../../../lib/errors.ts';
import { pageSize } from '../../../lib/graphql/cursor.ts';
import type { IamContext } from '../deps.ts';
import { Membership } from '../entities/membership.entity.ts';
import { Organisation } from '../entities/organisation.entity.ts';
import { User } from '../entities/user.entity.ts';

// A read on a hot path: plain rows, no ORM hydration. The organisation is also the tenant setting (RLS).
export const ME_SQL = `SELECT u.id, u.email, u.first_name AS "firstName", u.last_name AS "lastName", u.created_at AS "createdAt"
  FROM iam.organisation_users m JOIN iam.users u ON u.id = m.user_id
  WHERE m.organisation_id = $1 AND m.user_id = $2 AND m.status = 'ACTIVE'`;

@Resolver(() => Organisation)
export class OrganisationResolver {
  @Authorized('user')
  @Query(() => User, { description: 'The logged-in user' })
  async me(@Ctx() ctx: IamContext): Promise<User> {
    const identity = requireUser(ctx.identity);
    // through the membership, so a token for an organisation the user left no longer works
    const [user] = await ctx.sql<User>(ME_SQL, [identity.organisationId, identity.userId]);
    if (!user) throw notFound('User');
    return user;
  }

  @Authorized('read')
  @Query(() => Organisation, { description: "The caller's organisation" })
  async organisation(@Ctx() ctx: IamContext): Promise<Organisation> {
    const identity = requireIdentity(ctx.identity);
    const em = await ctx.em();
    const organisation = await em.findOne(Organisation, { id: identity.organisationId });
    if (!organisation) throw notFound('Organisation');
    return organisation;
  }

  @Authorized('user')
  @FieldResolver(() => [Membership], {
    description: 'Active and invited members, oldest first: `first` (default 100, at most 500)',
  })
  async members(
    @Root() organisation: Organisation,
    @Arg('first', () => Int, { nullable: true }) first: number | undefined,
    @Ctx() ctx: IamContext,
  ): Promise<Membership[]> {
    const limit = pageSize(first, 100, 500);
    // Organisation objects only come from authenticated paths (the caller's own, or one just signed into).
    if (ctx.identity && ctx.identity.organisationId !== organisation.id) return [];
    const em = await ctx.useOrganisation(organisation.id);
    return em.find(
      Membership,
      { organisationId: organisation.id, status: { $ne: 'DISABLED' } },
      { populate: ['user'], orderBy: { createdAt: 'asc', user: 'asc' }, limit },
    );
  }
}
