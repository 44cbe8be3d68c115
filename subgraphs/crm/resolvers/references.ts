// Federation entry points for Company, Person and Position: one query per type per request.
import { entityReference, type ReferenceResolvers } from '../../../lib/graphql/federation.ts';
import { Company } from '../entities/company.entity.ts';
import { Person } from '../entities/person.entity.ts';
import { Position } from '../entities/position.entity.ts';

export const crmReferences: ReferenceResolvers = {
  Company: entityReference('Company', Company),
  Person: entityReference('Person', Person),
  Position: entityReference('Position', Position, ['company', 'person']),
};
