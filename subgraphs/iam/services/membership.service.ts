// The caller's membership as the database holds it now, for IAM writes that need a role.
import { LockMode } from '@mikro-orm/postgresql';
import { type Role, requireRole, roleAtLeast } from '../../../lib/auth/identity.ts';
import type { EntityManager } from '../../../lib/db/orm.ts';
import { forbidden, unauthenticated } from '../../../lib/errors.ts';
import type { IamContext } from '../deps.ts';
import { Membership } from '../entities/membership.entity.ts';
import type { User } from '../entities/user.entity.ts';

export interface CurrentMember {
  userId: string;
  organisationId: string;
  role: Role;
  em: EntityManager;
}

/**
 * Reads the caller's role inside the request transaction, locked against a concurrent change, so a
 * demoted or removed member cannot act on a role the token or the authentication cache still shows.
 */
export async function currentMember(ctx: IamContext, minimum: Role): Promise<CurrentMember> {
  const caller = requireRole(ctx.identity, minimum);
  const em = await ctx.em();
  const membership = await em.findOne(
    Membership,
    { organisationId: caller.organisationId, user: caller.userId },
    { lockMode: LockMode.PESSIMISTIC_READ, refresh: true },
  );
  if (membership?.status !== 'ACTIVE') throw unauthenticated('This membership is no longer active');
  if (!roleAtLeast(membership.role, minimum)) {
    throw forbidden(`This operation needs the ${minimum} role or above`);
  }
  return { userId: caller.userId, organisationId: caller.organisationId, role: membership.role, em };
}

/** What others see of a user: nothing personal until they have accepted to join. */
export function visibleUser(user: User, status: Membership['status']): User {
  if (status !== 'INVITED') return user;
  return { id: user.id, email: user.email, firstName: null, lastName: null } as User;
}
