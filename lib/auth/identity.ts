// Who is calling, and what they may do.
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
