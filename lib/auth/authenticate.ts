// Turns a request's credentials into an Identity. Every service runs this itself: no trusted headers.
import { timingSafeEqual } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { AppError, unauthenticated } from '../errors.ts';
import type { ApiKeyScope, Identity } from './identity.ts';
import { hashSecret, parseApiKey, type TokenService } from './tokens.ts';

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

export function createAuthenticator(tokens: TokenService, sql: SqlRunner): Authenticator {
  async function fromApiKey(secret: string, id: string): Promise<Identity> {
    const [row] = await sql('SELECT * FROM iam.api_key_by_id(?)', [id]);
    const given = Buffer.from(hashSecret(secret));
    const stored = row ? Buffer.from(String(row.secret_hash)) : undefined;
    const ok =
      !!stored && !row.revoked_at && stored.length === given.length && timingSafeEqual(stored, given);
    if (!ok) throw unauthenticated('Invalid or revoked API key');
    // lastUsedAt is best effort: never fail a request because of it
    sql('SELECT iam.touch_api_key(?)', [id]).catch(() => {});
    return {
      kind: 'apiKey',
      apiKeyId: id,
      organisationId: row.organisation_id,
      scopes: row.scopes as ApiKeyScope[],
      createdBy: row.created_by ?? null,
    };
  }

  return {
    async authenticate(headers) {
      const credential = credentialsOf(headers);
      if (!credential) return undefined;
      const apiKeyId = parseApiKey(credential);
      if (apiKeyId) return fromApiKey(credential, apiKeyId);
      const claims = await tokens.verify(credential);
      return {
        kind: 'user',
        userId: claims.sub,
        email: claims.email,
        organisationId: claims.organisation_id,
        role: claims.role,
      };
    },
  };
}
