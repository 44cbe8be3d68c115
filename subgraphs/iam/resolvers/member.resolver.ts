// Inviting members, accepting invitations, changing roles; exactly one owner per organisation.
import { randomUUID } from 'node:crypto';
import { Arg, Authorized, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { type Role, requireRole } from '../../../lib/auth/identity.ts';
import { checkPasswordStrength, hashPassword } from '../../../lib/auth/password.ts';
import { hashSecret, newOpaqueToken } from '../../../lib/auth/tokens.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { AppError, badInput, ErrorCode, forbidden, notFound, unauthenticated } from '../../../lib/errors.ts';
import { normaliseEmail } from '../../../lib/validation/email.ts';
import type { IamContext } from '../deps.ts';
import { Invitation } from '../entities/invitation.entity.ts';
import { Membership, RoleEnum } from '../entities/membership.entity.ts';
import { Organisation } from '../entities/organisation.entity.ts';
import { AuthPayload } from '../entities/payloads.ts';
import { User } from '../entities/user.entity.ts';
import { issueSession } from '../services/session.service.ts';

const INVITATION_DAYS = 7;

@Resolver()
export class MemberResolver {
  @Authorized('role:ADMIN')
  @Mutation(() => Membership, {
    description: 'Invites someone by email (ADMIN or above); the result carries the invitation token once',
  })
  async inviteMember(
    @Arg('email', () => String) emailInput: string,
    @Arg('role', () => RoleEnum) role: Role,
    @Ctx() ctx: IamContext,
  ): Promise<Membership> {
    const inviter = requireRole(ctx.identity, 'ADMIN');
    if (role === 'OWNER')
      throw badInput('An organisation has one owner; use transferOwnership', { field: 'role' });
    if (role === 'ADMIN' && inviter.role !== 'OWNER') throw forbidden('Only the owner can invite admins');
    const email = normaliseEmail(emailInput);
    if (!email) throw badInput('email is not a valid email address', { field: 'email' });
    const em = await ctx.em();
    let user = await em.findOne(User, { email });
    if (!user) {
      user = em.create(User, { id: randomUUID(), email, passwordHash: null, createdAt: new Date() });
      await em.flush();
    } else if (await em.findOne(Membership, { organisationId: inviter.organisationId, user })) {
      throw new AppError(ErrorCode.Conflict, 'This person is already a member or invited');
    }
    const membership = em.create(Membership, {
      organisationId: inviter.organisationId,
      user,
      role,
      status: 'INVITED',
      createdAt: new Date(),
    });
    await em.flush();
    const token = newOpaqueToken();
    em.create(Invitation, {
      id: randomUUID(),
      organisationId: inviter.organisationId,
      userId: user.id,
      tokenHash: hashSecret(token),
      invitedBy: inviter.userId,
      expiresAt: new Date(Date.now() + INVITATION_DAYS * 86_400_000),
      createdAt: new Date(),
    });
    await em.flush();
    membership.invitationToken = token;
    return membership;
  }

  @Authorized('public')
  @Mutation(() => AuthPayload, {
    description: 'Accepts an invitation; a password is required when the invitee has no account yet',
  })
  async acceptInvitation(
    @Arg('token', () => String) token: string,
    @Arg('password', () => String, { nullable: true }) password: string | undefined,
    @Arg('firstName', () => String, { nullable: true }) firstName: string | undefined,
    @Arg('lastName', () => String, { nullable: true }) lastName: string | undefined,
    @Ctx() ctx: IamContext,
  ): Promise<AuthPayload> {
    const [stored] = await ctx.orm.em
      .getConnection()
      .execute<
        { id: string; organisation_id: string; user_id: string; expires_at: Date; accepted_at: Date | null }[]
      >('SELECT * FROM iam.invitation_by_hash(?)', [hashSecret(token)], 'all');
    if (!stored || stored.accepted_at || new Date(stored.expires_at).getTime() < Date.now()) {
      throw unauthenticated('Invalid or expired invitation');
    }
    const em = await ctx.useOrganisation(stored.organisation_id);
    const user = await em.findOneOrFail(User, { id: stored.user_id }, { populate: ['passwordHash'] });
    if (!user.passwordHash) {
      const weak =
        password === undefined || password === null
          ? 'password is required'
          : checkPasswordStrength(password);
      if (weak) throw badInput(weak, { field: 'password' });
      user.passwordHash = await hashPassword(password!);
      if (firstName?.trim()) user.firstName = firstName.trim();
      if (lastName?.trim()) user.lastName = lastName.trim();
    }
    const claimed = await em.nativeUpdate(
      Invitation,
      { id: stored.id, acceptedAt: null },
      { acceptedAt: new Date() },
    );
    if (claimed !== 1) throw unauthenticated('Invalid or expired invitation');
    const membership = await em.findOneOrFail(Membership, { organisationId: stored.organisation_id, user });
    membership.status = 'ACTIVE';
    await em.flush();
    const organisation = await em.findOneOrFail(Organisation, { id: stored.organisation_id });
    return issueSession(em, ctx.deps, user, organisation, membership.role);
  }

  @Authorized('role:ADMIN')
  @Mutation(() => Membership, {
    description: 'Changes a member role (ADMIN or above; OWNER cannot be given here)',
  })
  async updateMemberRole(
    @Arg('userId', () => ID) userId: string,
    @Arg('role', () => RoleEnum) role: Role,
    @Ctx() ctx: IamContext,
  ): Promise<Membership> {
    const actor = requireRole(ctx.identity, 'ADMIN');
    if (role === 'OWNER') throw badInput('Use transferOwnership to change the owner', { field: 'role' });
    if (!isUuid(userId)) throw notFound('Member');
    const em = await ctx.em();
    const membership = await em.findOne(
      Membership,
      { organisationId: actor.organisationId, user: userId },
      { populate: ['user'] },
    );
    if (!membership) throw notFound('Member');
    if (membership.role === 'OWNER')
      throw badInput('The owner keeps the OWNER role until ownership is transferred');
    if ((role === 'ADMIN' || membership.role === 'ADMIN') && actor.role !== 'OWNER') {
      throw forbidden('Only the owner can grant or remove the ADMIN role');
    }
    membership.role = role;
    await em.flush();
    return membership;
  }

  @Authorized('role:OWNER')
  @Mutation(() => Membership, {
    description: 'Hands ownership to another active member (OWNER only); the old owner becomes ADMIN',
  })
  async transferOwnership(
    @Arg('userId', () => ID) userId: string,
    @Ctx() ctx: IamContext,
  ): Promise<Membership> {
    const owner = requireRole(ctx.identity, 'OWNER');
    if (!isUuid(userId) || userId === owner.userId)
      throw badInput('Pick another active member', { field: 'userId' });
    const em = await ctx.em();
    const target = await em.findOne(
      Membership,
      { organisationId: owner.organisationId, user: userId, status: 'ACTIVE' },
      { populate: ['user'] },
    );
    if (!target) throw notFound('Member');
    // demote first: the unique index allows one owner at any moment
    await em.nativeUpdate(
      Membership,
      { organisationId: owner.organisationId, user: owner.userId },
      { role: 'ADMIN' },
    );
    await em.nativeUpdate(
      Membership,
      { organisationId: owner.organisationId, user: userId },
      { role: 'OWNER' },
    );
    target.role = 'OWNER';
    return target;
  }
}
