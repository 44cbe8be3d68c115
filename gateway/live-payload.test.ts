// The internal query of live activity payloads: one document whatever the number of events (so one plan),
// each distinct id looked up once, and each event given back its own entities and errors.
import {
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  parse,
  print,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { type ActivityEvent, activityBatch, activityQuery, type LiveOperation } from './live-payload.ts';

function liveOperation(query: string, variables: Record<string, unknown> = {}): LiveOperation {
  const document = parse(query);
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  )!;
  const field = operation.selectionSet.selections[0] as FieldNode;
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  return {
    document,
    operation,
    field,
    fieldName: 'campaignActivity',
    responseKey: field.alias?.value ?? field.name.value,
    variables,
    fragments,
  };
}

const ACTIVITY = `subscription A($id: ID!, $withCompany: Boolean!) {
  campaignActivity(campaignId: $id) {
    kind
    campaign { name }
    m: message { subject }
    ...Who
  }
}
fragment Who on CampaignActivity { enrollment { position { email company @include(if: $withCompany) { name } } } }`;

const event = (i: number, extra: Partial<ActivityEvent> = {}): ActivityEvent => ({
  kind: 'SENT',
  at: '2026-03-01T09:30:00.000Z',
  campaignId: `c${i}`,
  messageId: `m${i}`,
  enrollmentId: `e${i}`,
  ...extra,
});

describe('activityQuery', () => {
  it('is one list look-up per entity field, with the client variables it reads and none other', () => {
    const query = activityQuery(liveOperation(ACTIVITY, { id: 'c1', withCompany: true }));
    const text = print(query.document!);
    expect(text).toContain('_live_campaign: _liveCampaigns(ids: $_liveCampaignIds)');
    expect(text).toContain('_live_m: _liveMessages(ids: $_liveMessageIds)');
    expect(text).toContain('_live_enrollment: _liveEnrollments(ids: $_liveEnrollmentIds)');
    expect(text).toContain('$_liveMessageIds: [ID!]!');
    // the campaign id only picks the campaign: subscriptions on other campaigns share the query
    expect(query.variables).toEqual({ withCompany: true });
  });

  it('needs no query when only the event’s own fields are selected', () => {
    const query = activityQuery(
      liveOperation('subscription { campaignActivity(campaignId: "c") { kind at } }'),
    );
    expect(query.document).toBeUndefined();
    expect(
      activityBatch(query, [event(1)])
        .split({})
        .map((p) => p.data),
    ).toEqual([{}]);
  });
});

describe('activityBatch', () => {
  const query = activityQuery(liveOperation(ACTIVITY, { id: 'c1', withCompany: false }));

  it('looks each distinct id up once, in one run for any number of events', () => {
    const events = [
      event(1),
      event(2),
      event(1, { kind: 'OPENED' }),
      event(3, { messageId: undefined, kind: 'ENROLLMENT_CHANGED' }),
    ];
    const batch = activityBatch(query, events);
    expect(batch.variables).toEqual({
      withCompany: false,
      _liveCampaignIds: ['c1', 'c2', 'c3'],
      _liveMessageIds: ['m1', 'm2'],
      _liveEnrollmentIds: ['e1', 'e2', 'e3'],
    });
    const parts = batch.split({
      data: {
        _live_campaign: [{ name: 'One' }, { name: 'Two' }, { name: 'Three' }],
        _live_m: [{ subject: 'S1' }, { subject: 'S2' }],
        _live_enrollment: [{ position: { email: 'a@x' } }, null, { position: { email: 'c@x' } }],
      },
    });
    expect(parts.map((p) => p.data)).toEqual([
      { campaign: { name: 'One' }, m: { subject: 'S1' }, enrollment: { position: { email: 'a@x' } } },
      { campaign: { name: 'Two' }, m: { subject: 'S2' }, enrollment: null },
      { campaign: { name: 'One' }, m: { subject: 'S1' }, enrollment: { position: { email: 'a@x' } } },
      // no message on an enrolment change: the field stays unset (null in the payload), with no look-up
      { campaign: { name: 'Three' }, enrollment: { position: { email: 'c@x' } } },
    ]);
  });

  it('gives an error under one entity to the events of that id, and one outside to all', () => {
    const batch = activityBatch(query, [event(1), event(2), event(1)]);
    const parts = batch.split({
      data: { _live_campaign: [{ name: 'One' }, { name: 'Two' }], _live_m: [null, { subject: 'S2' }] },
      errors: [
        new GraphQLError('Message not readable', {
          path: ['_live_m', 0, 'subject'],
          extensions: { code: 'FORBIDDEN' },
        }),
        new GraphQLError('Subgraph unavailable'),
      ],
    });
    expect(parts.map((p) => p.errors.map((e) => [e.message, e.path, e.extensions.code]))).toEqual([
      [
        ['Message not readable', ['m', 'subject'], 'FORBIDDEN'],
        ['Subgraph unavailable', undefined, undefined],
      ],
      [['Subgraph unavailable', undefined, undefined]],
      [
        ['Message not readable', ['m', 'subject'], 'FORBIDDEN'],
        ['Subgraph unavailable', undefined, undefined],
      ],
    ]);
  });
});
