// API keys for machine clients: created and revoked by admins, the secret shown once.
import { randomUUID } from 'node:crypto';
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { type ApiKeyScope, scopesAllowedFor } from '../../../lib/auth/identity.ts';
import { hashSecret, newApiKeySecret } from '../../../lib/auth/tokens.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { badInput, forbidden, notFound } from '../../../lib/errors.ts';
import { cursorLoader, inOrder, keysetPage, pageSize } from '../../../lib/graphql/cursor.ts';
import type { IamContext } from '../deps.ts';
import { ApiKey, ApiKeyScopeEnum } from '../entities/api-key.entity.ts';
import { CreatedApiKey } from '../entities/payloads.ts';
import { currentMember } from '../services/membership.service.ts';

const API_KEYS_TABLE = 'iam.api_keys';

@Resolver(() => ApiKey)
export class ApiKeyResolver {
  @Authorized('role:ADMIN')
  @Query(() => [ApiKey], {
    description:
      "The organisation's API keys, newest first (ADMIN or above): `first` (default 50, at most 200) after the `cursor` of the last one seen",
  })
  async apiKeys(
    @Arg('first', () => Int, { nullable: true }) first: number | undefined,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
    @Ctx() ctx: IamContext,
  ): Promise<ApiKey[]> {
    const limit = pageSize(first, 50, 200);
    const { em } = await currentMember(ctx, 'ADMIN');
    const ids = await keysetPage(ctx, { table: API_KEYS_TABLE, after, order: 'desc', limit });
    return inOrder(ids, await em.find(ApiKey, { id: { $in: ids } }));
  }

  @FieldResolver(() => String, { description: 'Pass as `after` to read the keys after this one' })
  async cursor(@Root() key: ApiKey, @Ctx() ctx: IamContext): Promise<string> {
    const cursor = await cursorLoader(ctx, API_KEYS_TABLE).load(key.id);
    if (!cursor) throw notFound('API key');
    return cursor;
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
