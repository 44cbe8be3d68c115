// Access tokens (EdDSA JWT via jose), and opaque secrets (refresh tokens, API keys) stored as hashes.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type CryptoKey, importPKCS8, importSPKI, jwtVerify, SignJWT } from 'jose';
import { isUuid } from '../db/orm.ts';
import { unauthenticated } from '../errors.ts';
import { ROLES, type Role } from './identity.ts';

const ISSUER = 'prospectflow';
const AUDIENCE = 'prospectflow';
const ALG = 'EdDSA';

export interface AccessClaims {
  sub: string;
  email: string;
  organisation_id: string;
  role: Role;
  /** The account's session generation at issue: a password reset moves it on and ends older tokens. */
  sg: number;
}

/** Verified claims, with the issue time (seconds) that ending an account's sessions compares against. */
export interface VerifiedClaims extends AccessClaims {
  iat: number;
  /** expiry, seconds since the epoch: the token is refused from then on */
  exp: number;
}

export interface TokenService {
  sign(claims: AccessClaims): Promise<{ token: string; expiresAt: Date }>;
  verify(token: string): Promise<VerifiedClaims>;
}

export async function createTokenService(options: {
  privateKey?: string;
  publicKey: string;
  ttlSeconds: number;
}): Promise<TokenService> {
  const publicKey: CryptoKey = await importSPKI(options.publicKey, ALG);
  const privateKey: CryptoKey | undefined = options.privateKey
    ? await importPKCS8(options.privateKey, ALG)
    : undefined;
  return {
    async sign(claims) {
      if (!privateKey) throw new Error('this service has no signing key');
      const now = Math.floor(Date.now() / 1000);
      const exp = now + options.ttlSeconds;
      const token = await new SignJWT({
        email: claims.email,
        organisation_id: claims.organisation_id,
        role: claims.role,
        sg: claims.sg,
      })
        .setProtectedHeader({ alg: ALG, typ: 'JWT' })
        .setSubject(claims.sub)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(exp)
        .setJti(randomUUID())
        .sign(privateKey);
      return { token, expiresAt: new Date(exp * 1000) };
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, publicKey, {
          algorithms: [ALG],
          issuer: ISSUER,
          audience: AUDIENCE,
          requiredClaims: ['sub', 'exp', 'iat'],
        });
        const { sub, email, organisation_id, role, iat, exp, sg } = payload as Record<string, unknown>;
        if (
          typeof iat !== 'number' ||
          typeof exp !== 'number' ||
          !Number.isInteger(sg) ||
          !isUuid(sub) ||
          !isUuid(organisation_id) ||
          typeof email !== 'string' ||
          !ROLES.includes(role as Role)
        ) {
          throw new Error('malformed claims');
        }
        return { sub, email, organisation_id, role: role as Role, sg: sg as number, iat, exp };
      } catch {
        throw unauthenticated('Invalid or expired access token');
      }
    },
  };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** Refresh tokens and invitation tokens: 256 random bits. */
export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

const API_KEY = /^pfk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

export function newApiKeySecret(id: string): string {
  return `pfk_${id.replaceAll('-', '')}_${randomBytes(32).toString('base64url')}`;
}

/**
 * The key id embedded in an API key secret, or undefined when it is not one. Something that looks like an
 * API key but is malformed is UNAUTHENTICATED as a key, not mistaken for a broken access token.
 */
export function parseApiKey(secret: string): string | undefined {
  const m = API_KEY.exec(secret);
  if (!m) {
    if (secret.startsWith('pfk_')) throw unauthenticated('Invalid API key: it is not in the pfk_… format');
    return undefined;
  }
  const h = m[1];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
