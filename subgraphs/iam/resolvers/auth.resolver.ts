// Sign-up, login, refresh rotation, logout.
import { randomUUID } from 'node:crypto';
import { Arg, Authorized, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { Role } from '../../../lib/auth/identity.ts';
import { checkPasswordStrength, hashPassword, verifyPassword } from '../../../lib/auth/password.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { AppError, badInput, ErrorCode, unauthenticated } from '../../../lib/errors.ts';
import { normaliseEmail } from '../../../lib/validation/email.ts';
import type { IamContext } from '../deps.ts';
import { Membership } from '../entities/membership.entity.ts';
import { Organisation } from '../entities/organisation.entity.ts';
import { AuthPayload } from '../entities/payloads.ts';
import { User } from '../entities/user.entity.ts';
import { SignUpInput } from '../inputs/sign-up.input.ts';
import { findRefreshToken, issueSession, revokeFamily, rotateSession } from '../services/session.service.ts';

const BAD_CREDENTIALS = 'Invalid email or password';

function cleanName(value: string | undefined | null, field: string, max = 100): string | null {
  const v = value?.trim();
  if (!v) return null;
  if (v.length > max) throw badInput(`${field} must be at most ${max} characters`, { field });
  return v;
}

@Resolver()
export class AuthResolver {
  @Authorized('public')
  @Mutation(() => AuthPayload, {
    description: 'Creates an organisation and its owner, and logs the owner in',
  })
  async signUp(
    @Arg('input', () => SignUpInput) input: SignUpInput,
    @Ctx() ctx: IamContext,
  ): Promise<AuthPayload> {
    const email = normaliseEmail(input.email);
    if (!email) throw badInput('email is not a valid email address', { field: 'email' });
    const organisationName = input.organisationName.trim();
    if (!organisationName || organisationName.length > 200) {
      throw badInput('organisationName must be 1 to 200 characters', { field: 'organisationName' });
    }
    const weak = checkPasswordStrength(input.password);
    if (weak) throw badInput(weak, { field: 'password' });

    const organisationId = randomUUID();
    const em = await ctx.useOrganisation(organisationId);
    const existing = await em.findOne(User, { email });
    if (existing)
      throw new AppError(ErrorCode.Conflict, 'An account with this email already exists; log in instead');
    const user = em.create(User, {
      id: randomUUID(),
      email,
      passwordHash: await hashPassword(input.password),
      firstName: cleanName(input.firstName, 'firstName'),
      lastName: cleanName(input.lastName, 'lastName'),
      createdAt: new Date(),
    });
    const organisation = em.create(Organisation, {
      id: organisationId,
      name: organisationName,
      createdAt: new Date(),
    });
    await em.flush();
    em.create(Membership, { organisationId, user, role: 'OWNER', status: 'ACTIVE', createdAt: new Date() });
    await em.flush();
    return issueSession(em, ctx.deps, user, organisation, 'OWNER');
  }

  @Authorized('public')
  @Mutation(() => AuthPayload, {
    description: 'organisationId is required when the user belongs to several organisations',
  })
  async login(
    @Arg('email', () => String) emailInput: string,
    @Arg('password', () => String) password: string,
    @Arg('organisationId', () => ID, { nullable: true }) organisationId: string | undefined,
    @Ctx() ctx: IamContext,
  ): Promise<AuthPayload> {
    const email = normaliseEmail(emailInput);
    const rows = email
      ? await ctx.orm.em.getConnection().execute<
          {
            user_id: string;
            password_hash: string | null;
            organisation_id: string;
            role: Role;
            status: string;
          }[]
        >('SELECT * FROM iam.login_candidates(?)', [email], 'all')
      : [];
    // Always run the KDF, so a wrong email and a wrong password take the same time.
    const ok = await verifyPassword(password, rows[0]?.password_hash ?? undefined);
    if (!ok) throw unauthenticated(BAD_CREDENTIALS);
    const active = rows.filter((r) => r.status === 'ACTIVE');
    let chosen = active[0];
    if (organisationId !== undefined && organisationId !== null) {
      chosen = active.find((r) => r.organisation_id === organisationId) as (typeof active)[number];
      if (!isUuid(organisationId) || !chosen) throw unauthenticated(BAD_CREDENTIALS);
    } else if (active.length > 1) {
      throw badInput('This account belongs to several organisations: pass organisationId', {
        field: 'organisationId',
        organisationIds: active.map((r) => r.organisation_id),
      });
    }
    if (!chosen) throw unauthenticated(BAD_CREDENTIALS);
    const em = await ctx.useOrganisation(chosen.organisation_id);
    const user = await em.findOneOrFail(User, { id: chosen.user_id });
    const organisation = await em.findOneOrFail(Organisation, { id: chosen.organisation_id });
    return issueSession(em, ctx.deps, user, organisation, chosen.role);
  }

  @Authorized('public')
  @Mutation(() => AuthPayload, { description: 'Rotates: the old refresh token stops working' })
  async refreshSession(
    @Arg('refreshToken', () => String) refreshToken: string,
    @Ctx() ctx: IamContext,
  ): Promise<AuthPayload> {
    const stored = await findRefreshToken(ctx.orm, refreshToken);
    if (!stored || stored.revoked_at) throw unauthenticated('Invalid refresh token');
    if (stored.rotated_at) {
      // A rotated token came back: someone holds a copy. End every session of this login.
      await revokeFamily(ctx.orm, stored.organisation_id, stored.family_id);
      ctx.log.warn({ familyId: stored.family_id }, 'refresh token reuse detected; family revoked');
      throw unauthenticated('Refresh token reuse detected; please log in again');
    }
    if (stored.expires_at.getTime() <= Date.now()) throw unauthenticated('Refresh token expired');
    const em = await ctx.useOrganisation(stored.organisation_id);
    return rotateSession(em, ctx.deps, stored);
  }

  @Authorized('public')
  @Mutation(() => Boolean, { description: 'Ends the session (the whole refresh token family)' })
  async logout(
    @Arg('refreshToken', () => String) refreshToken: string,
    @Ctx() ctx: IamContext,
  ): Promise<boolean> {
    const stored = await findRefreshToken(ctx.orm, refreshToken);
    if (!stored) return false;
    return (await revokeFamily(ctx.orm, stored.organisation_id, stored.family_id)) > 0;
  }
}
