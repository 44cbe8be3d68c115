// ingestPharow: the mutation behind the GraphQL API (the Pharow webhook runs the same ingest service).
import { Arg, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import type { CrmContext } from '../deps.ts';
import { IngestResult } from '../entities/ingest-result.ts';
import { PharowIngestInput } from '../inputs/pharow.input.ts';
import { ingestPharowItems } from '../services/ingest.service.ts';
import { afterIngest } from '../services/statistics.ts';

/**
 * The field's resolver as registered in the schema (see `overrides` in index.ts): type-graphql would first
 * copy up to 10,000 nested inputs into class instances (about half a second); the normaliser reads the
 * coerced values directly.
 */
export async function ingestPharowResolver(
  _root: unknown,
  args: { input: { data: unknown[] } },
  ctx: CrmContext,
): Promise<IngestResult> {
  const identity = requireAccess(ctx.identity, 'ingest');
  const em = await ctx.em();
  const result = await ingestPharowItems(
    em,
    identity.organisationId,
    args.input.data,
    ctx.deps.ingestMaxItems,
  );
  ctx.afterCommit(() => afterIngest(ctx.deps, identity.organisationId, result));
  return result;
}

@Resolver()
export class IngestResolver {
  // Declares the field and its types for the schema; the registered resolver is ingestPharowResolver.
  @Authorized('ingest')
  @Mutation(() => IngestResult, {
    description:
      'Upserts Pharow prospects; idempotent; bad items are reported in rejected and the rest stored',
  })
  ingestPharow(
    @Arg('input', () => PharowIngestInput) input: PharowIngestInput,
    @Ctx() ctx: CrmContext,
  ): Promise<IngestResult> {
    return ingestPharowResolver(null, { input }, ctx);
  }
}
