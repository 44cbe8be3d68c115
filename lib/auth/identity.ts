// Who is calling, and what they may do.
import type { AuthCheckerFn } from 'type-graphql';
import { forbidden, unauthenticated } from '../errors.ts';

export type Role = 'OWNER' | 'ADMIN' | 'MEMBER' | 'VIEWER';
export type ApiKeyScope = 'INGEST' | 'READ' | 'WRITE';
export const ROLES: readonly Role[] = ['OWNER', 'ADMIN', 'MEMBER', 'VIEWER'];
export const API_KEY_SCOPES: readonly ApiKeyScope[] = ['INGEST', 'READ', 'WRITE'];

const RANK: Record<Role, number> = { VIEWER: 0, MEMBER: 1, ADMIN: 2, OWNER: 3 };

export type Identity =
  | { kind: 'user'; userId: string; email: string; organisationId: string; role: Role }
  | {
      kind: 'apiKey';
      apiKeyId: string;
      organisationId: string;
      scopes: ApiKeyScope[];
      createdBy: string | null;
    };

export function roleAtLeast(role: Role, minimum: Role): boolean {
  return RANK[role] >= RANK[minimum];
}

/** What a key may do at most, given its creator's role: a viewer's key only reads. */
export function scopesAllowedFor(role: Role): ApiKeyScope[] {
  return RANK[role] >= RANK.MEMBER ? [...API_KEY_SCOPES] : ['READ'];
}

export function requireIdentity(identity: Identity | undefined): Identity {
  if (!identity) throw unauthenticated();
  return identity;
}

export function requireUser(identity: Identity | undefined): Extract<Identity, { kind: 'user' }> {
  const id = requireIdentity(identity);
  if (id.kind !== 'user') throw forbidden('This operation needs a user session, not an API key');
  return id;
}

export function hasRole(identity: Identity, minimum: Role): boolean {
  return identity.kind === 'user' && RANK[identity.role] >= RANK[minimum];
}

export function requireRole(
  identity: Identity | undefined,
  minimum: Role,
): Extract<Identity, { kind: 'user' }> {
  const user = requireUser(identity);
  if (RANK[user.role] < RANK[minimum]) throw forbidden(`This operation needs the ${minimum} role or above`);
  return user;
}

/** Reads need VIEWER (users) or READ/WRITE (keys); writes need MEMBER (users) or WRITE (keys). */
export function requireAccess(identity: Identity | undefined, access: 'read' | 'write' | 'ingest'): Identity {
  const id = requireIdentity(identity);
  if (id.kind === 'user') {
    if (access !== 'read' && RANK[id.role] < RANK.MEMBER) throw forbidden('Viewers cannot change data');
    return id;
  }
  const ok =
    access === 'read'
      ? id.scopes.includes('READ') || id.scopes.includes('WRITE')
      : access === 'write'
        ? id.scopes.includes('WRITE')
        : id.scopes.includes('INGEST') || id.scopes.includes('WRITE');
  if (!ok)
    throw forbidden(`This API key lacks the ${access === 'read' ? 'READ' : access.toUpperCase()} scope`);
  return id;
}

/** Only an API key with the INGEST scope may post Pharow data. */
export function requireIngestKey(identity: Identity | undefined): Extract<Identity, { kind: 'apiKey' }> {
  if (!identity) throw unauthenticated('An API key is required (Authorization: Bearer <key> or X-Api-Key)');
  if (identity.kind !== 'apiKey' || !identity.scopes.includes('INGEST')) {
    throw forbidden('The Pharow webhook needs an API key with the INGEST scope');
  }
  return identity;
}

/**
 * What a root field or an entity reference demands of its caller, declared with `@Authorized(...)` on the
 * field or `access` on the reference:
 * - `public`: anyone, no credentials (sign-up, login, refresh, invitation acceptance...);
 * - `user`: a user session of any role, never an API key (the caller's own account, the team's members);
 * - `read`: users of any role, keys with READ or WRITE;
 * - `write`: users from MEMBER up, keys with WRITE;
 * - `ingest`: users from MEMBER up, keys with INGEST or WRITE;
 * - `role:<ROLE>`: a user session with that role or above.
 * An INGEST-only key therefore does nothing but ingest; a READ key reads prospects, campaigns and its
 * organisation but neither writes nor sees members' personal data.
 */
export type Requirement = 'public' | 'user' | 'read' | 'write' | 'ingest' | `role:${Role}`;

export const REQUIREMENTS: readonly Requirement[] = [
  'public',
  'user',
  'read',
  'write',
  'ingest',
  ...ROLES.map((r) => `role:${r}` as const),
];

export function isRequirement(value: unknown): value is Requirement {
  return (REQUIREMENTS as readonly unknown[]).includes(value);
}

/** Throws UNAUTHENTICATED or FORBIDDEN unless the identity meets the requirement. */
export function checkRequirement(identity: Identity | undefined, requirement: Requirement): void {
  if (requirement === 'public') return;
  if (requirement === 'user') {
    requireUser(identity);
    return;
  }
  if (requirement.startsWith('role:')) {
    requireRole(identity, requirement.slice('role:'.length) as Role);
    return;
  }
  if (requirement === 'read' || requirement === 'write' || requirement === 'ingest') {
    requireAccess(identity, requirement);
    return;
  }
  // an unknown word must never open a field
  throw forbidden('This operation declares an unknown access requirement');
}

/**
 * type-graphql's check behind `@Authorized(...requirements)`: every listed requirement must hold. A field
 * marked `@Authorized()` with none is refused, so an empty declaration cannot open it by mistake.
 */
export const authChecker: AuthCheckerFn<{ identity?: Identity }, Requirement> = (
  { context },
  requirements,
) => {
  if (requirements.length === 0) throw forbidden('This operation declares no access requirement');
  for (const requirement of requirements) checkRequirement(context.identity, requirement);
  return true;
};
