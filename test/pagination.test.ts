// Paged lists return every row exactly once, even rows written in one transaction (one now() for all).
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeCursor } from '../lib/graphql/cursor.ts';
import { errorCode, gql, newOrganisation, ok } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';

const SUPPRESSIONS = `query ($first: Int, $after: String) { suppressions(first: $first, after: $after) { id value cursor } }`;
const ENROLLMENTS = `query ($id: ID!, $first: Int, $after: String) {
  campaign(id: $id) { enrollments(first: $first, after: $after) { id cursor } } }`;

/** Pages through a list 2 at a time, following each page's last cursor. */
async function pageAll(
  read: (after: string | undefined) => Promise<{ id: string; cursor: string }[]>,
): Promise<string[]> {
  const seen: string[] = [];
  let after: string | undefined;
  for (let guard = 0; guard < 50; guard++) {
    const page = await read(after);
    seen.push(...page.map((r) => r.id));
    if (page.length < 2) break;
    after = page.at(-1)!.cursor;
  }
  return seen;
}

describe('keyset pagination', () => {
  it('pages suppressions written in one transaction 2 at a time, each exactly once', async () => {
    const org = await newOrganisation();
    const ids = await withClient(ownerClient(), async (c) => {
      await c.query('BEGIN');
      const inserted: string[] = [];
      for (let i = 0; i < 9; i++) {
        const id = randomUUID();
        inserted.push(id);
        await c.query(
          `INSERT INTO crm.suppressions (organisation_id, id, value, kind, reason) VALUES ($1, $2, $3, 'EMAIL', 'MANUAL')`,
          [org.organisation.id, id, `same-tx-${i}@example.fr`],
        );
      }
      await c.query('COMMIT');
      return inserted;
    });
    const seen = await pageAll(async (after) => {
      const data = await ok<any, any>(SUPPRESSIONS, { first: 2, after }, { token: org.accessToken });
      return data.suppressions;
    });
    expect(seen).toHaveLength(9);
    expect([...seen].sort()).toEqual([...ids].sort());
    // newest first, ties broken by id: the same order as one unpaged read
    const all = await ok<any, any>(SUPPRESSIONS, { first: 100 }, { token: org.accessToken });
    expect(all.suppressions.map((s: { id: string }) => s.id)).toEqual(seen);
  });

  it('pages a campaign enrollments written in one transaction 2 at a time, each exactly once', async () => {
    const org = await newOrganisation();
    const orgId = org.organisation.id;
    const campaignId = randomUUID();
    const ids = await withClient(ownerClient(), async (c) => {
      await c.query('BEGIN');
      const company = randomUUID();
      await c.query('INSERT INTO crm.companies (organisation_id, id, name) VALUES ($1, $2, $3)', [
        orgId,
        company,
        'Lot SA',
      ]);
      await c.query(
        `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour)
         VALUES ($1, $2, 'Lot', 'Europe/Paris', '{1,2,3,4,5}', 9, 18)`,
        [orgId, campaignId],
      );
      const inserted: string[] = [];
      for (let i = 0; i < 7; i++) {
        const person = randomUUID();
        const position = randomUUID();
        const enrollment = randomUUID();
        inserted.push(enrollment);
        await c.query('INSERT INTO crm.people (organisation_id, id, first_name) VALUES ($1, $2, $3)', [
          orgId,
          person,
          `P${i}`,
        ]);
        await c.query(
          'INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email) VALUES ($1, $2, $3, $4, $5)',
          [orgId, position, company, person, `p${i}@lot.fr`],
        );
        await c.query(
          'INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id) VALUES ($1, $2, $3, $4)',
          [orgId, enrollment, campaignId, position],
        );
      }
      await c.query('COMMIT');
      return inserted;
    });
    const seen = await pageAll(async (after) => {
      const data = await ok<any, any>(
        ENROLLMENTS,
        { id: campaignId, first: 2, after },
        { token: org.accessToken },
      );
      return data.campaign.enrollments;
    });
    expect([...seen].sort()).toEqual([...ids].sort());
    expect(seen).toHaveLength(7);
  });

  it('pages campaigns and API keys written in one transaction, newest first, each exactly once', async () => {
    const org = await newOrganisation();
    const orgId = org.organisation.id;
    const { campaigns, keys } = await withClient(ownerClient(), async (c) => {
      await c.query('BEGIN');
      const campaigns: string[] = [];
      const keys: string[] = [];
      for (let i = 0; i < 5; i++) {
        const id = randomUUID();
        campaigns.push(id);
        await c.query(
          `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour)
           VALUES ($1, $2, $3, 'Europe/Paris', '{1,2,3,4,5}', 9, 18)`,
          [orgId, id, `Same tx ${i}`],
        );
        const key = randomUUID();
        keys.push(key);
        await c.query(
          `INSERT INTO iam.api_keys (organisation_id, id, name, scopes, secret_hash, created_by)
           VALUES ($1, $2, $3, '{READ}', $4, $5)`,
          [orgId, key, `key ${i}`, `hash-${key}`, org.user.id],
        );
      }
      await c.query('COMMIT');
      return { campaigns, keys };
    });
    const seenCampaigns = await pageAll(async (after) => {
      const data = await ok<any, any>(
        'query ($first: Int, $after: String) { campaigns(first: $first, after: $after) { id cursor } }',
        { first: 2, after },
        { token: org.accessToken },
      );
      return data.campaigns;
    });
    expect(seenCampaigns).toHaveLength(5);
    expect([...seenCampaigns].sort()).toEqual([...campaigns].sort());
    const seenKeys = await pageAll(async (after) => {
      const data = await ok<any, any>(
        'query ($first: Int, $after: String) { apiKeys(first: $first, after: $after) { id cursor } }',
        { first: 2, after },
        { token: org.accessToken },
      );
      return data.apiKeys;
    });
    expect(seenKeys).toHaveLength(5);
    expect([...seenKeys].sort()).toEqual([...keys].sort());
    // bounded: a page larger than the maximum is refused, not served
    const tooMany = await gql('{ campaigns(first: 201) { id } }', {}, { token: org.accessToken });
    expect(errorCode(tooMany)).toBe('BAD_USER_INPUT');
    const members = await gql(
      '{ organisation { members(first: 501) { role } } }',
      {},
      { token: org.accessToken },
    );
    expect(errorCode(members)).toBe('BAD_USER_INPUT');
  });

  it('answers BAD_USER_INPUT to a malformed or out-of-range cursor on every paged list', async () => {
    const org = await newOrganisation();
    const id = randomUUID();
    const bad = [
      'garbage',
      randomUUID(),
      encodeCursor({ createdAt: '2024-13-45 25:61:61+00', id }),
      encodeCursor({ createdAt: '0000-01-01 00:00:00+00', id }),
      encodeCursor({ createdAt: '2024-02-30 10:00:00+00', id }),
      encodeCursor({ createdAt: '2024-05-01 10:00:00+99', id }),
      encodeCursor({ createdAt: '2024-05-01 10:00:00+00', id: 'not-a-uuid' }),
    ];
    const campaignId = randomUUID();
    await withClient(ownerClient(), (c) =>
      c.query(
        `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour)
         VALUES ($1, $2, 'Bad cursors', 'Europe/Paris', '{1,2,3,4,5}', 9, 18)`,
        [org.organisation.id, campaignId],
      ),
    );
    for (const after of bad) {
      const positions = await gql(
        'query ($after: String) { positions(after: $after) { totalCount } }',
        { after },
        { token: org.accessToken },
      );
      expect([after, errorCode(positions)]).toEqual([after, 'BAD_USER_INPUT']);
      const suppressions = await gql(SUPPRESSIONS, { after }, { token: org.accessToken });
      expect([after, errorCode(suppressions)]).toEqual([after, 'BAD_USER_INPUT']);
      const enrollments = await gql(ENROLLMENTS, { id: campaignId, after }, { token: org.accessToken });
      expect([after, errorCode(enrollments)]).toEqual([after, 'BAD_USER_INPUT']);
    }
  });
});
