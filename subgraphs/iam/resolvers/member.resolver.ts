// Inviting members, accepting invitations, changing roles, removing members; exactly one owner per organisation.
import { randomUUID } from 'node:crypto';
import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Resolver, Root } from 'type-graphql';
import type { Role } from '../../../lib/auth/identity.ts';
import { checkPasswordStrength, hashPassword, verifyPassword } from '../../../lib/auth/password.ts';
import { hashSecret, newOpaqueToken } from '../../../lib/auth/tokens.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { AppError, badInput, ErrorCode, forbidden, notFound, unauthenticated } from '../../../lib/errors.ts';
import { normaliseEmail } from '../../../lib/validation/email.ts';
import type { IamContext } from '../deps.ts';
import { Invitation } from '../entities/invitation.entity.ts';
import { Membership, RoleEnum } from '../entities/membership.entity.ts';
import { Organisation } from '../entities/organisation.entity.ts';
import { AuthPayload } from '../entities/payloads.ts';
import { RefreshToken } from '../entities/refresh-token.entity.ts';
import { User } from '../entities/user.entity.ts';
import { invitationMail } from '../services/account-mail.ts';
import { currentMember, visibleUser } from '../services/membership.service.ts';
import { issueSession } from '../services/session.service.ts';

const INVITATION_DAYS = 7;
const INVALID_INVITATION = 'Invalid or expired invitation';

@Resolver(() => Membership)
export class MemberResolver {
  @FieldResolver(() => User)
  user(@Root() membership: Membership): User {
    return visibleUser(membership.user, membership.status);
  }

  @Authorized('role:ADMIN')
  @Mutation(() => Membership, {
    description:
      'Invites someone by email (ADMIN or above). The invitation is mailed to that address; the membership stays INVITED until its invitee accepts',
  })
  async inviteMember(
    @Arg('email', () => String) emailInput: string,
    @Arg('role', () => RoleEnum) role: Role,
    @Ctx() ctx: IamContext,
  ): Promise<Membership> {
    if (role === 'OWNER')
      throw badInput('An organisation has one owner; use transferOwnership', { field: 'role' });
    const email = normaliseEmail(emailInput);
    if (!email) throw badInput('email is not a valid email address', { field: 'email' });
    const inviter = await currentMember(ctx, 'ADMIN');
    if (role === 'ADMIN' && inviter.role !== 'OWNER') throw forbidden('Only the owner can invite admins');
    const { em, organisationId } = inviter;
    let user = await em.findOne(User, { email }, { populate: ['passwordHash'] });
    const hasAccount = !!user?.passwordHash;
    let membership: Membership | null = null;
    if (!user) {
      user = em.create(User, { id: randomUUID(), email, passwordHash: null, createdAt: new Date() });
      await em.flush();
    } else {
      membership = await em.findOne(Membership, { organisationId, user });
      if (membership && membership.status !== 'DISABLED') {
        throw new AppError(ErrorCode.Conflict, 'This person is already a member or invited');
      }
    }
    if (membership) {
      // a former member comes back only through a new invitation they accept
      await em.nativeDelete(Invitation, { organisationId, userId: user.id, acceptedAt: null });
      membership.role = role;
      membership.status = 'INVITED';
    } else {
      membership = em.create(Membership, {
        organisationId,
        user,
        role,
        status: 'INVITED',
        createdAt: new Date(),
      });
    }
    await em.flush();
    const token = newOpaqueToken();
    const expiresAt = new Date(Date.now() + INVITATION_DAYS * 86_400_000);
    em.create(Invitation, {
      id: randomUUID(),
      organisationId,
      userId: user.id,
      tokenHash: hashSecret(token),
      invitedBy: inviter.userId,
      expiresAt,
      createdAt: new Date(),
    });
    await em.flush();
    const organisation = await em.findOneOrFail(Organisation, { id: organisationId });
    // the token goes to the address only: whoever accepts must read that mailbox
    await ctx.deps.mailer.send(
      invitationMail({
        to: email,
        organisationName: organisation.name,
        role,
        token,
        publicUrl: ctx.deps.publicUrl,
        hasAccount,
        expiresAt,
      }),
    );
    return membership;
  }

  @Authorized('public')
  @Mutation(() => AuthPayload, {
    description:
      "Accepts an invitation with the token from its mail. A new invitee chooses a password; an existing account accepts with that account's password, or while logged in to it",
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
      throw unauthenticated(INVALID_INVITATION);
    }
    const em = await ctx.useOrganisation(stored.organisation_id);
    const user = await em.findOneOrFail(User, { id: stored.user_id }, { populate: ['passwordHash'] });
    const hasPassword = password !== undefined && password !== null;
    if (!user.passwordHash) {
      // no account yet: the invitee chooses its password now
      const weak = hasPassword ? checkPasswordStrength(password) : 'password is required';
      if (weak) throw badInput(weak, { field: 'password' });
      user.passwordHash = await hashPassword(password!);
      if (firstName?.trim()) user.firstName = firstName.trim().slice(0, 100);
      if (lastName?.trim()) user.lastName = lastName.trim().slice(0, 100);
    } else if (hasPassword) {
      // an existing account: a given password must be its own, never a new one
      if (!(await verifyPassword(password, user.passwordHash))) {
        throw unauthenticated("This address already has an account: give that account's password");
      }
    } else if (ctx.identity?.kind !== 'user' || ctx.identity.userId !== user.id) {
      throw unauthenticated(
        "This address already has an account: accept with that account's password, or while logged in to it",
      );
    }
    const claimed = await em.nativeUpdate(
      Invitation,
      { id: stored.id, acceptedAt: null },
      { acceptedAt: new Date() },
    );
    if (claimed !== 1) throw unauthenticated(INVALID_INVITATION);
    // only an invitation still pending activates: a member removed since keeps no way back through it
    const activated = await em.nativeUpdate(
      Membership,
      { organisationId: stored.organisation_id, user: user.id, status: 'INVITED' },
      { status: 'ACTIVE' },
    );
    if (activated !== 1) throw unauthenticated(INVALID_INVITATION);
    await em.flush();
    const membership = await em.findOneOrFail(
      Membership,
      { organisationId: stored.organisation_id, user },
      { refresh: true },
    );
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
    if (role === 'OWNER') throw badInput('Use transferOwnership to change the owner', { field: 'role' });
    const actor = await currentMember(ctx, 'ADMIN');
    if (!isUuid(userId)) throw notFound('Member');
    const membership = await actor.em.findOne(
      Membership,
      { organisationId: actor.organisationId, user: userId, status: { $ne: 'DISABLED' } },
      { populate: ['user'] },
    );
    if (!membership) throw notFound('Member');
    if (membership.role === 'OWNER')
      throw badInput('The owner keeps the OWNER role until ownership is transferred');
    if ((role === 'ADMIN' || membership.role === 'ADMIN') && actor.role !== 'OWNER') {
      throw forbidden('Only the owner can grant or remove the ADMIN role');
    }
    membership.role = role;
    await actor.em.flush();
    return membership;
  }

  @Authorized('role:ADMIN')
  @Mutation(() => Membership, {
    description:
      'Removes a member or withdraws an invitation (ADMIN or above; only the owner removes admins). Their sessions in this organisation end',
  })
  async removeMember(@Arg('userId', () => ID) userId: string, @Ctx() ctx: IamContext): Promise<Membership> {
    const actor = await currentMember(ctx, 'ADMIN');
    if (!isUuid(userId)) throw notFound('Member');
    const { em, organisationId } = actor;
    const membership = await em.findOne(
      Membership,
      { organisationId, user: userId, status: { $ne: 'DISABLED' } },
      { populate: ['user'] },
    );
    if (!membership) throw notFound('Member');
    if (membership.role === 'OWNER') throw badInput('The owner cannot be removed; transfer ownership first');
    if (membership.role === 'ADMIN' && actor.role !== 'OWNER' && userId !== actor.userId) {
      throw forbidden('Only the owner can remove an admin');
    }
    membership.status = 'DISABLED';
    await em.flush();
    await em.nativeDelete(Invitation, { organisationId, userId, acceptedAt: null });
    await em.nativeUpdate(
      RefreshToken,
      { organisationId, userId, revokedAt: null },
      { revokedAt: new Date() },
    );
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
    const owner = await currentMember(ctx, 'OWNER');
    if (!isUuid(userId) || userId === owner.userId)
      throw badInput('Pick another active member', { field: 'userId' });
    const { em } = owner;
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
