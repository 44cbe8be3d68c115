// What each kind of caller may do, end to end: INGEST keys only ingest, READ keys and viewers never write.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { hashPassword } from '../lib/auth/password.ts';
import {
  AddSuppressionDocument,
  CampaignsDocument,
  CreateApiKeyDocument,
  FindPositionsDocument,
  InviteMemberDocument,
  LoginDocument,
  MyOrganisationDocument,
  type SessionFragment,
} from './generated/graphql.ts';
import { errorCode, gql, newOrganisation, ok, PASSWORD, uniqueEmail } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';

let org: SessionFragment;
let ingestKey: string;
let readKey: string;
let positionId: string;

async function apiKey(scopes: ('INGEST' | 'READ' | 'WRITE')[]): Promise<string> {
  const { createApiKey } = await ok(
    CreateApiKeyDocument,
    { name: `key ${scopes.join('+')}`, scopes },
    { token: org.accessToken },
  );
  return createApiKey.secret;
}

/** An `_entities` request straight to the outreach subgraph: the path the gateway takes for Position.enrollments. */
async function positionEnrollments(token: string) {
  const res = await fetch(inject('subgraphUrls').outreach, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query:
        'query ($r: [_Any!]!) { _entities(representations: $r) { ... on Position { id enrollments { id status } } } }',
      variables: { r: [{ __typename: 'Position', id: positionId }] },
    }),
  });
  return (await res.json()) as {
    data?: { _entities: ({ id: string; enrollments: { id: string }[] } | null)[] } | null;
    errors?: { extensions?: { code?: string } }[];
  };
}

beforeAll(async () => {
  org = await newOrganisation();
  ingestKey = await apiKey(['INGEST']);
  readKey = await apiKey(['READ']);
  positionId = randomUUID();
  const orgId = org.organisation.id;
  await withClient(ownerClient(), async (c) => {
    const company = randomUUID();
    const person = randomUUID();
    const campaign = randomUUID();
    await c.query('INSERT INTO crm.companies (organisation_id, id, name) VALUES ($1, $2, $3)', [
      orgId,
      company,
      'Scopes SA',
    ]);
    await c.query('INSERT INTO crm.people (organisation_id, id, first_name) VALUES ($1, $2, $3)', [
      orgId,
      person,
      'Alix',
    ]);
    await c.query(
      'INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email) VALUES ($1, $2, $3, $4, $5)',
      [orgId, positionId, company, person, 'alix@scopes.fr'],
    );
    await c.query(
      `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour)
       VALUES ($1, $2, 'Scopes', 'Europe/Paris', '{1,2,3,4,5}', 9, 18)`,
      [orgId, campaign],
    );
    await c.query(
      'INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id) VALUES ($1, $2, $3, $4)',
      [orgId, randomUUID(), campaign, positionId],
    );
  });
});

describe('an INGEST-only API key', () => {
  it('cannot read the members of its organisation, nor their emails', async () => {
    const res = await gql(MyOrganisationDocument, {}, { token: ingestKey });
    expect(errorCode(res)).toBe('FORBIDDEN');
    expect(JSON.stringify(res.data ?? null)).not.toContain('@');
  });

  it('cannot list positions or campaigns', async () => {
    expect(errorCode(await gql(FindPositionsDocument, { first: 5 }, { token: ingestKey }))).toBe('FORBIDDEN');
    expect(errorCode(await gql(CampaignsDocument, {}, { token: ingestKey }))).toBe('FORBIDDEN');
  });

  it('cannot reach Position.enrollments through the outreach Position reference', async () => {
    const denied = await positionEnrollments(ingestKey);
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(JSON.stringify(denied.data ?? null)).not.toContain('enrollments":[{');
    // the same path works for a reader, so the refusal is about the scope
    const allowed = await positionEnrollments(readKey);
    expect(allowed.errors).toBeUndefined();
    expect(allowed.data?._entities[0]?.enrollments).toHaveLength(1);
  });
});

describe('a READ API key', () => {
  it('reads positions and its organisation, but not members personal data', async () => {
    const { positions } = await ok(FindPositionsDocument, { first: 5 }, { token: readKey });
    expect(positions.totalCount).toBe(1);
    const { organisation } = await ok<{ organisation: { id: string } }, object>(
      '{ organisation { id name } }',
      {},
      { token: readKey },
    );
    expect(organisation).toMatchObject({ id: org.organisation.id });
    expect(errorCode(await gql(MyOrganisationDocument, {}, { token: readKey }))).toBe('FORBIDDEN');
  });

  it('cannot change anything', async () => {
    const suppress = await gql(
      AddSuppressionDocument,
      { value: 'nope@scopes.fr', reason: 'MANUAL' as any },
      { token: readKey },
    );
    expect(errorCode(suppress)).toBe('FORBIDDEN');
    const key = await gql(CreateApiKeyDocument, { name: 'escalate', scopes: ['WRITE'] }, { token: readKey });
    expect(errorCode(key)).toBe('FORBIDDEN');
  });
});

describe('a VIEWER', () => {
  it('reads, but cannot change anything', async () => {
    const email = uniqueEmail('viewer');
    await withClient(ownerClient(), async (c) => {
      const userId = randomUUID();
      await c.query('INSERT INTO iam.users (id, email, password_hash) VALUES ($1, $2, $3)', [
        userId,
        email,
        await hashPassword(PASSWORD),
      ]);
      await c.query(
        `INSERT INTO iam.organisation_users (organisation_id, user_id, role, status) VALUES ($1, $2, 'VIEWER', 'ACTIVE')`,
        [org.organisation.id, userId],
      );
    });
    const { login } = await ok(LoginDocument, { email, password: PASSWORD });
    const token = login.accessToken;

    const { positions } = await ok(FindPositionsDocument, { first: 5 }, { token });
    expect(positions.totalCount).toBe(1);
    const suppress = await gql(
      AddSuppressionDocument,
      { value: 'viewer@scopes.fr', reason: 'MANUAL' as any },
      { token },
    );
    expect(errorCode(suppress)).toBe('FORBIDDEN');
    const invite = await gql(
      InviteMemberDocument,
      { email: uniqueEmail('x'), role: 'MEMBER' as any },
      { token },
    );
    expect(errorCode(invite)).toBe('FORBIDDEN');
    const key = await gql(CreateApiKeyDocument, { name: 'viewer key', scopes: ['READ'] }, { token });
    expect(errorCode(key)).toBe('FORBIDDEN');
  });
});
