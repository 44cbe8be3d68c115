// API keys for machine clients: created and revoked by admins, the secret shown once.
import { randomUUID } from 'node:crypto';
import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { type ApiKeyScope, scopesAllowedFor } from '../../../lib/auth/identity.ts';
import { hashSecret, newApiKeySecret } from '../../../lib/auth/tokens.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { badInput, forbidden, notFound } from '../../../lib/errors.ts';
import type { IamContext } from '../deps.ts';
import { ApiKey, ApiKeyScopeEnum } from '../entities/api-key.entity.ts';
import { CreatedApiKey } from '../entities/payloads.ts';
import { currentMember } from '../services/membership.service.ts';

@Resolver(() => ApiKey)
export class ApiKeyResolver {
  @Authorized('role:ADMIN')
  @Query(() => [ApiKey], { description: "The organisation's API keys, newest first (ADMIN or above)" })
  async apiKeys(@Ctx() ctx: IamContext): Promise<ApiKey[]> {
    const { em } = await currentMember(ctx, 'ADMIN');
    return em.find(ApiKey, {}, { orderBy: { createdAt: 'desc' } });
  }

  @Authorized('role:ADMIN')
  @Mutation(() => CreatedApiKey, {
    description: 'Creates a key (ADMIN or above) with scopes within your role; the secret is shown once',
  })
  async createApiKey(
    @Arg('name', () => String) name: string,
    @Arg('scopes', () => [ApiKeyScopeEnum]) scopes: ApiKeyScope[],
    @Ctx() ctx: IamContext,
  ): Promise<CreatedApiKey> {
    const cleanName = name.trim();
    if (!cleanName || cleanName.length > 200)
      throw badInput('name must be 1 to 200 characters', { field: 'name' });
    const uniqueScopes = [...new Set(scopes)];
    if (uniqueScopes.length === 0) throw badInput('at least one scope is required', { field: 'scopes' });
    const admin = await currentMember(ctx, 'ADMIN');
    // a key never does more than its creator may; authentication caps it again if the creator is demoted
    const allowed = scopesAllowedFor(admin.role);
    const beyond = uniqueScopes.filter((s) => !allowed.includes(s));
    if (beyond.length) throw forbidden(`Your role cannot grant the ${beyond.join(', ')} scope`);
    const { em } = admin;
    const id = randomUUID();
    const secret = newApiKeySecret(id);
    const apiKey = em.create(ApiKey, {
      id,
      organisationId: admin.organisationId,
      name: cleanName,
      scopes: uniqueScopes,
      secretHash: hashSecret(secret),
      createdBy: admin.userId,
      createdAt: new Date(),
    });
    await em.flush();
    return { apiKey, secret };
  }

  @Authorized('role:ADMIN')
  @Mutation(() => ApiKey)
  async revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: IamContext): Promise<ApiKey> {
    const { em } = await currentMember(ctx, 'ADMIN');
    if (!isUuid(id)) throw notFound('API key');
    const apiKey = await em.findOne(ApiKey, { id });
    if (!apiKey) throw notFound('API key');
    apiKey.revokedAt ??= new Date();
    await em.flush();
    return apiKey;
  }
}
