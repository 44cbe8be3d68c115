// Federation entry points: other subgraphs' User and Organisation references, batched per request.
import { requireIdentity } from '../../../lib/auth/identity.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { byKeys, type RequestContext } from '../../../lib/graphql/context.ts';
import type { ReferenceResolvers } from '../../../lib/graphql/federation.ts';
import { Membership } from '../entities/membership.entity.ts';
import { Organisation } from '../entities/organisation.entity.ts';
import type { User } from '../entities/user.entity.ts';
import { visibleUser } from '../services/membership.service.ts';

export const iamReferences: ReferenceResolvers = {
  // Users are people's personal data: user sessions only, never API keys.
  User: {
    access: 'user',
    __resolveReference: async (ref: { id: string }, ctx: RequestContext) => {
      if (!isUuid(ref.id)) return null;
      // only users who belong to the caller's organisation are visible
      return ctx
        .loader<string, User>('User', async (ids, em) => {
          const rows = await em.find(Membership, { user: { $in: [...ids] } }, { populate: ['user'] });
          return byKeys(
            ids,
            rows.map((m) => visibleUser(m.user, m.status)),
            (u) => u.id,
          );
        })
        .load(ref.id);
    },
  },
  Organisation: {
    access: 'read',
    __resolveReference: async (ref: { id: string }, ctx: RequestContext) => {
      const identity = requireIdentity(ctx.identity);
      if (ref.id !== identity.organisationId) return null;
      const em = await ctx.em();
      return em.findOne(Organisation, { id: ref.id });
    },
  },
};
