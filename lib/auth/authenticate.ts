// Turns a request's credentials into an Identity. Every service runs this itself: no trusted headers.
import { timingSafeEqual } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { AppError, unauthenticated } from '../errors.ts';
import { type ApiKeyScope, type Identity, type Role, scopesAllowedFor } from './identity.ts';
import { hashSecret, parseApiKey, type TokenService, type VerifiedClaims } from './tokens.ts';

export type SqlRunner = (sql: string, params: unknown[]) => Promise<Record<string, any>[]>;
export type HeaderBag = Record<string, string | string[] | undefined> | Headers | Map<string, string>;

function header(headers: HeaderBag, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  if (headers instanceof Map) return headers.get(name);
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The bearer token or API key a request carries, if any. */
export function credentialsOf(headers: HeaderBag): string | undefined {
  const auth = header(headers, 'authorization');
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m) throw unauthenticated('Authorization header must be "Bearer <token>"');
    return m[1];
  }
  return header(headers, 'x-api-key')?.trim() || undefined;
}

/** authenticate() for a GraphQL context: bad credentials become UNAUTHENTICATED with HTTP 401. */
export async function authenticateForGraphQL(
  authenticator: Authenticator,
  headers: HeaderBag,
): Promise<Identity | undefined> {
  try {
    return await authenticator.authenticate(headers);
  } catch (error) {
    if (error instanceof AppError) {
      throw new GraphQLError(error.message, { extensions: { code: error.code, http: { status: 401 } } });
    }
    throw error;
  }
}

export interface Authenticator {
  /** undefined when the request carries no credentials; throws UNAUTHENTICATED when they are bad. */
  authenticate(headers: HeaderBag): Promise<Identity | undefined>;
}

export interface AuthenticatorOptions {
  /** How long a membership's role and status are trusted before being read again; 0 reads them every time. */
  cacheSeconds?: number;
  /** Bound on cached memberships; the oldest go first. */
  maxCacheEntries?: number;
  /** Bound on access tokens kept as verified (each until its own expiry); the oldest go first; 0 verifies every time. */
  maxVerifiedTokens?: number;
}

interface MembershipState {
  role: Role;
  status: string;
  /** Access tokens of an older session generation are refused. */
  sessionGeneration: number;
}

const STATE_SQL = 'SELECT role, status, session_generation FROM iam.membership_state(?, ?)';

// One round trip for the key and its creator's membership: a key is worth no more than its creator.
const API_KEY_SQL = `SELECT k.organisation_id, k.secret_hash, k.scopes, k.revoked_at, k.created_by,
    s.role AS creator_role, s.status AS creator_status
  FROM iam.api_key_by_id(?) k LEFT JOIN LATERAL iam.membership_state(k.created_by, k.organisation_id) s ON true`;

export function createAuthenticator(
  tokens: TokenService,
  sql: SqlRunner,
  options: AuthenticatorOptions = {},
): Authenticator {
  const ttlMs = (options.cacheSeconds ?? 5) * 1000;
  const maxEntries = options.maxCacheEntries ?? 50_000;
  // Concurrent requests of one user share one look-up; a failed look-up is not kept.
  const cache = new Map<string, { at: number; state: Promise<MembershipState | undefined> }>();

  function membershipState(userId: string, organisationId: string): Promise<MembershipState | undefined> {
    const key = `${userId}:${organisationId}`;
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && now - hit.at < ttlMs) return hit.state;
    const state = sql(STATE_SQL, [userId, organisationId]).then(([row]) =>
      row
        ? {
            role: row.role as Role,
            status: String(row.status),
            sessionGeneration: Number(row.session_generation),
          }
        : undefined,
    );
    if (ttlMs > 0) {
      cache.delete(key);
      cache.set(key, { at: now, state });
      if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
      state.catch(() => {
        if (cache.get(key)?.state === state) cache.delete(key);
      });
    }
    return state;
  }

  // A signature checked once stays checked: a token is verified again only after its expiry, when it is
  // refused anyway. Only the signature and claims are kept; membership and ended sessions are checked
  // on every request below, so removal and revocation act exactly as without this cache.
  const maxTokens = options.maxVerifiedTokens ?? 10_000;
  const verified = new Map<string, { claims: VerifiedClaims; expiresAtMs: number }>();

  async function verifiedClaims(token: string): Promise<VerifiedClaims> {
    const now = Date.now();
    const hit = verified.get(token);
    if (hit) {
      if (now < hit.expiresAtMs) return hit.claims;
      verified.delete(token);
    }
    const claims = await tokens.verify(token);
    const expiresAtMs = claims.exp * 1000;
    if (maxTokens > 0 && now < expiresAtMs) {
      verified.set(token, { claims, expiresAtMs });
      if (verified.size > maxTokens) verified.delete(verified.keys().next().value as string);
    }
    return claims;
  }

  async function fromApiKey(secret: string, id: string): Promise<Identity> {
    const [row] = await sql(API_KEY_SQL, [id]);
    const given = Buffer.from(hashSecret(secret));
    const stored = row ? Buffer.from(String(row.secret_hash)) : undefined;
    const ok =
      !!stored && !row.revoked_at && stored.length === given.length && timingSafeEqual(stored, given);
    if (!ok) throw unauthenticated('Invalid or revoked API key');
    if (row.creator_status !== 'ACTIVE') {
      throw unauthenticated('This API key was created by someone who is no longer a member');
    }
    // lastUsedAt is best effort: never fail a request because of it
    sql('SELECT iam.touch_api_key(?)', [id]).catch(() => {});
    const allowed = scopesAllowedFor(row.creator_role as Role);
    return {
      kind: 'apiKey',
      apiKeyId: id,
      organisationId: row.organisation_id,
      scopes: (row.scopes as ApiKeyScope[]).filter((s) => allowed.includes(s)),
      createdBy: row.created_by ?? null,
    };
  }

  async function fromAccessToken(credential: string): Promise<Identity> {
    const claims = await verifiedClaims(credential);
    const state = await membershipState(claims.sub, claims.organisation_id);
    if (state?.status !== 'ACTIVE') throw unauthenticated('This membership is no longer active');
    if (claims.sg < state.sessionGeneration) {
      throw unauthenticated('This session has ended; please log in again');
    }
    // the role now, not the one the token was issued with
    return {
      kind: 'user',
      userId: claims.sub,
      email: claims.email,
      organisationId: claims.organisation_id,
      role: state.role,
    };
  }

  return {
    async authenticate(headers) {
      const credential = credentialsOf(headers);
      if (!credential) return undefined;
      const apiKeyId = parseApiKey(credential);
      if (apiKeyId) return fromApiKey(credential, apiKeyId);
      return fromAccessToken(credential);
    },
  };
}
