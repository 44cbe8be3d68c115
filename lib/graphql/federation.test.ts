// A field or an entity that forgets to declare who may call it is closed, not open.
import 'reflect-metadata';
import { execute, parse } from 'graphql';
import { Authorized, Directive, Field, ID, ObjectType, Query, Resolver } from 'type-graphql';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../auth/identity.ts';
import { buildFederatedSchema, declaredRequirements } from './federation.ts';

@Directive('@key(fields: "id")')
@ObjectType()
class Widget {
  @Field(() => ID)
  id!: string;
}

@Directive('@key(fields: "id")')
@ObjectType()
class Gadget {
  @Field(() => ID)
  id!: string;
}

@Resolver()
class WidgetResolver {
  @Authorized('read')
  @Query(() => String)
  declared(): string {
    return 'fine';
  }

  @Query(() => String)
  forgotten(): string {
    return 'leaked';
  }

  @Query(() => [Widget])
  widgets(): Widget[] {
    return [];
  }

  @Query(() => [Gadget])
  gadgets(): Gadget[] {
    return [];
  }
}

const owner: Identity = { kind: 'user', userId: 'u', email: 'u@x.fr', organisationId: 'o', role: 'OWNER' };
const ingestKey: Identity = {
  kind: 'apiKey',
  apiKeyId: 'k',
  organisationId: 'o',
  scopes: ['INGEST'],
  createdBy: null,
};

describe('buildFederatedSchema', () => {
  it('records declared requirements and refuses everyone on undeclared root fields and entities', async () => {
    const schema = await buildFederatedSchema({
      resolvers: [WidgetResolver],
      references: { Widget: { access: 'read', __resolveReference: (ref: { id: string }) => ref } },
    });
    const declared = declaredRequirements(schema);
    expect(declared.fields.get('Query.declared')).toEqual(['read']);
    expect(declared.fields.has('Query.forgotten')).toBe(false);
    expect(declared.entities.get('Widget')).toBe('read');
    expect(declared.entities.has('Gadget')).toBe(false);

    const run = async (query: string, identity: Identity, variables?: Record<string, unknown>) => {
      const result = await execute({
        schema,
        document: parse(query),
        contextValue: { identity },
        variableValues: variables,
      });
      return { data: result.data, codes: result.errors?.map((e) => (e.originalError as any)?.code) };
    };
    expect(await run('{ declared }', owner)).toEqual({ data: { declared: 'fine' }, codes: undefined });
    expect((await run('{ declared }', ingestKey)).codes).toEqual(['FORBIDDEN']);
    // the owner included: an undeclared field is closed, not open
    expect((await run('{ forgotten }', owner)).codes).toEqual(['FORBIDDEN']);

    const entities =
      'query ($r: [_Any!]!) { _entities(representations: $r) { ... on Widget { id } ... on Gadget { id } } }';
    expect((await run(entities, owner, { r: [{ __typename: 'Widget', id: '1' }] })).data).toEqual({
      _entities: [{ id: '1' }],
    });
    expect((await run(entities, ingestKey, { r: [{ __typename: 'Widget', id: '1' }] })).codes).toEqual([
      'FORBIDDEN',
    ]);
    expect((await run(entities, owner, { r: [{ __typename: 'Gadget', id: '1' }] })).codes).toEqual([
      'FORBIDDEN',
    ]);
  });
});
