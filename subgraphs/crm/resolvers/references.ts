// Federation entry points for Company, Person and Position: one query per type per request.
import type { EntityName } from '@mikro-orm/postgresql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { byKeys, type RequestContext } from '../../../lib/graphql/context.ts';
import type { ReferenceResolvers } from '../../../lib/graphql/federation.ts';
import { Company } from '../entities/company.entity.ts';
import { Person } from '../entities/person.entity.ts';
import { Position } from '../entities/position.entity.ts';

function reference<T extends { id: string }>(name: string, entity: EntityName<T>, populate: string[] = []) {
  return {
    __resolveReference: async (ref: { id: string }, ctx: RequestContext) => {
      requireAccess(ctx.identity, 'read');
      if (!isUuid(ref.id)) return null;
      return ctx
        .loader<string, T>(name, async (ids, em) => {
          const rows = await em.find(entity, { id: { $in: [...ids] } } as any, { populate: populate as any });
          return byKeys(ids, rows as T[], (r) => r.id);
        })
        .load(ref.id);
    },
  };
}

export const crmReferences: ReferenceResolvers = {
  Company: reference('Company', Company),
  Person: reference('Person', Person),
  Position: reference('Position', Position, ['company', 'person']),
};
