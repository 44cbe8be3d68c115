// Sessions: access token + rotating refresh token (families, reuse detection).
import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Role } from '../../../lib/auth/identity.ts';
import { hashSecret, newOpaqueToken, type TokenService } from '../../../lib/auth/tokens.ts';
import type { EntityManager } from '../../../lib/db/orm.ts';
import { withTenant } from '../../../lib/db/orm.ts';
import { unauthenticated } from '../../../lib/errors.ts';
import { Membership } from '../entities/membership.entity.ts';
import { Organisation } from '../entities/organisation.entity.ts';
import type { AuthPayload } from '../entities/payloads.ts';
import { RefreshToken } from '../entities/refresh-token.entity.ts';
import { User } from '../entities/user.entity.ts';

export interface SessionDeps {
  tokens: TokenService;
  refreshTokenDays: number;
  orm: MikroORM;
}

/** Issues an access token and a refresh token in `familyId` (a new family when omitted). */
export async function issueSession(
  em: EntityManager,
  deps: SessionDeps,
  user: User,
  organisation: Organisation,
  role: Role,
  familyId: string = randomUUID(),
): Promise<AuthPayload> {
  const refreshToken = newOpaqueToken();
  em.create(RefreshToken, {
    id: randomUUID(),
    organisationId: organisation.id,
    userId: user.id,
    familyId,
    tokenHash: hashSecret(refreshToken),
    expiresAt: new Date(Date.now() + deps.refreshTokenDays * 86_400_000),
    createdAt: new Date(),
  });
  await em.flush();
  const { token, expiresAt } = await deps.tokens.sign({
    sub: user.id,
    email: user.email,
    organisation_id: organisation.id,
    role,
    sg: user.sessionGeneration,
  });
  return { accessToken: token, refreshToken, expiresAt, user, organisation };
}

interface StoredToken {
  id: string;
  organisation_id: string;
  user_id: string;
  family_id: string;
  expires_at: Date;
  rotated_at: Date | null;
  revoked_at: Date | null;
}

export async function findRefreshToken(
  orm: MikroORM,
  refreshToken: string,
): Promise<StoredToken | undefined> {
  const [row] = await orm.em
    .getConnection()
    .execute<Record<string, any>[]>(
      'SELECT * FROM iam.refresh_token_by_hash(?)',
      [hashSecret(refreshToken)],
      'all',
    );
  if (!row) return undefined;
  // the ORM's connection hands timestamps back as strings
  const date = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string));
  return {
    ...row,
    expires_at: date(row.expires_at)!,
    rotated_at: date(row.rotated_at),
    revoked_at: date(row.revoked_at),
  } as StoredToken;
}

/** Revokes every token of a family in its own transaction, so it sticks even when the request fails. */
export async function revokeFamily(orm: MikroORM, organisationId: string, familyId: string): Promise<number> {
  return withTenant(orm, organisationId, (em) =>
    em.nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: new Date() }),
  );
}

/** Rotates a refresh token: the old one stops working; reusing a rotated one revokes the whole family. */
export async function rotateSession(
  em: EntityManager,
  deps: SessionDeps,
  stored: StoredToken,
): Promise<AuthPayload> {
  const claimed = await em.nativeUpdate(
    RefreshToken,
    { id: stored.id, rotatedAt: null, revokedAt: null },
    { rotatedAt: new Date() },
  );
  if (claimed !== 1) throw unauthenticated('Refresh token already used');
  const membership = await em.findOne(
    Membership,
    { organisationId: stored.organisation_id, user: stored.user_id, status: 'ACTIVE' },
    { populate: ['user'] },
  );
  const organisation = await em.findOne(Organisation, { id: stored.organisation_id });
  if (!membership || !organisation) throw unauthenticated('Membership no longer active');
  return issueSession(em, deps, membership.user, organisation, membership.role, stored.family_id);
}
