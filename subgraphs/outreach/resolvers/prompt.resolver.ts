// Prompts: saving a version, and reading the latest versions (or every version of one name).
import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { pageSize } from '../../../lib/graphql/cursor.ts';
import type { OutreachContext } from '../deps.ts';
import { Prompt } from '../entities/prompt.entity.ts';
import { createPrompt } from '../services/prompts.ts';

const LATEST_VERSIONS_SQL = `SELECT DISTINCT ON (name) id FROM outreach.prompts
  WHERE organisation_id = current_organisation_id() ORDER BY name, version DESC LIMIT $1`;

@Resolver(() => Prompt)
export class PromptResolver {
  @Authorized('write')
  @Mutation(() => Prompt, { description: 'Saving a name again adds its next version; earlier versions stay' })
  async createPrompt(
    @Arg('name', () => String) name: string,
    @Arg('text', () => String) text: string,
    @Arg('model', () => String, { nullable: true }) model: string | undefined,
    @Ctx() ctx: OutreachContext,
  ): Promise<Prompt> {
    const identity = requireAccess(ctx.identity, 'write');
    return createPrompt(await ctx.em(), identity.organisationId, { name, text, model });
  }

  @Authorized('read')
  @Query(() => [Prompt], {
    description:
      'The latest version of each prompt by name or, with `name`, every version of that prompt newest first: `first` (default 50, at most 200)',
  })
  async prompts(
    @Arg('first', () => Int, { nullable: true }) first: number | undefined,
    @Arg('name', () => String, { nullable: true }) name: string | undefined,
    @Ctx() ctx: OutreachContext,
  ): Promise<Prompt[]> {
    requireAccess(ctx.identity, 'read');
    const limit = pageSize(first, 50, 200);
    const em = await ctx.em();
    if (name !== undefined && name !== null) {
      return em.find(Prompt, { name: name.trim() }, { orderBy: { version: 'desc' }, limit });
    }
    const ids = (await ctx.sql<{ id: string }>(LATEST_VERSIONS_SQL, [limit])).map((r) => r.id);
    return em.find(Prompt, { id: { $in: ids } }, { orderBy: { name: 'asc' } });
  }
}
