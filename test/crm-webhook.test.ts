// POST /webhooks/pharow: Pharow's raw body, an INGEST key, the same ingest and result as the mutation.
import { describe, expect, inject, it } from 'vitest';
import { CreateApiKeyDocument, FindPositionsDocument } from './generated/graphql.ts';
import { newOrganisation, ok } from './helpers/client.ts';
import { queuedSearchTerms } from './helpers/db.ts';
import { pharowItem } from './helpers/pharow.ts';
import { eventually } from './helpers/wait.ts';

const webhookUrl = () => `${inject('gatewayOrigin')}/webhooks/pharow`;

async function post(body: string, headers: Record<string, string> = {}) {
  const res = await fetch(webhookUrl(), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as any };
}

async function keyFor(scopes: ('INGEST' | 'READ' | 'WRITE')[]) {
  const org = await newOrganisation();
  const { createApiKey } = await ok(
    CreateApiKeyDocument,
    { name: 'pharow', scopes },
    { token: org.accessToken },
  );
  return { org, key: createApiKey.secret };
}

describe('Pharow webhook', () => {
  it('ingests Pharow raw JSON with an INGEST key, ignoring unknown fields and accepting numbers', async () => {
    const { org, key } = await keyFor(['INGEST']);
    const item = pharowItem();
    const raw = {
      version: 'V2',
      exportedAt: '2026-11-25',
      data: [
        {
          ...item,
          company: { ...item.company, companyNbEmployees: 120, somethingNew: 'ignored' },
          position: { ...item.position, positionEmailReliability: 91 },
          extra: { nested: true },
        },
        pharowItem({ position: { positionEmail: 'not an email' } }),
      ],
    };
    const res = await post(JSON.stringify(raw), { 'x-api-key': key });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      received: 2,
      companies: { created: 1, updated: 0, unchanged: 0 },
      people: { created: 1, updated: 0, unchanged: 0 },
      positions: { created: 1, updated: 0, unchanged: 0 },
      rejected: [{ index: 1, field: 'position.positionEmail', message: expect.any(String) }],
    });
    const again = await post(JSON.stringify(raw), { authorization: `Bearer ${key}` });
    expect(again.json.positions).toEqual({ created: 0, updated: 0, unchanged: 1 });
    const { positions } = await ok(FindPositionsDocument, {}, { token: org.accessToken });
    expect(positions.edges.map((e) => e.node.email)).toEqual([item.position.positionEmail]);
    // its search terms are indexed once it has committed
    await eventually(async () => (await queuedSearchTerms(org.organisation.id)) === 0, 10_000);
  });

  it('answers 401 without a key or with a bad one, 403 for a key without INGEST or a user token', async () => {
    const body = JSON.stringify({ data: [pharowItem()] });
    const none = await post(body);
    expect(none.status).toBe(401);
    expect(none.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const forged = await post(body, { 'x-api-key': `pfk_${'0'.repeat(32)}_${'A'.repeat(43)}` });
    expect(forged.status).toBe(401);
    const { key: readKey } = await keyFor(['READ', 'WRITE']);
    const read = await post(body, { 'x-api-key': readKey });
    expect(read.status).toBe(403);
    expect(read.json.errors[0].extensions.code).toBe('FORBIDDEN');
    const user = await newOrganisation();
    expect((await post(body, { authorization: `Bearer ${user.accessToken}` })).status).toBe(403);
  });

  it('answers 400 to a body that is not JSON or has no data list, and 413 to one over the limit', async () => {
    const { key } = await keyFor(['INGEST']);
    const notJson = await post('{"data": [', { 'x-api-key': key });
    expect(notJson.status).toBe(400);
    expect(notJson.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await post('{"items": []}', { 'x-api-key': key })).status).toBe(400);
    const huge = await post(JSON.stringify({ data: [], pad: 'x'.repeat(16_500_000) }), { 'x-api-key': key });
    expect(huge.status).toBe(413);
    expect(huge.json.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('streams a body of unknown length to the CRM, and answers 413 when it runs over the limit, storing nothing', async () => {
    const { org, key } = await keyFor(['INGEST']);
    const chunked = (parts: string[]) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
          controller.close();
        },
      });
    const send = async (parts: string[]) => {
      const res = await fetch(webhookUrl(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: chunked(parts),
        duplex: 'half',
      } as RequestInit);
      return { status: res.status, json: (await res.json()) as any };
    };
    const item = pharowItem();
    const small = await send(['{"data":[', JSON.stringify(item), ']}']);
    expect(small.status).toBe(200);
    expect(small.json.positions).toEqual({ created: 1, updated: 0, unchanged: 0 });
    // a valid item first, then padding past the 16 MB limit: the CRM never sees the end of it
    const other = pharowItem();
    const pad = 'x'.repeat(1_000_000);
    const huge = await send([`{"data":[${JSON.stringify(other)}],"pad":"`, ...Array(17).fill(pad), '"}']);
    expect(huge.status).toBe(413);
    expect(huge.json.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    const { positions } = await ok(FindPositionsDocument, {}, { token: org.accessToken });
    expect(positions.edges.map((e) => e.node.email)).toEqual([item.position.positionEmail]);
  });

  it('answers a repeat the same however its bytes are spaced, and refuses an item that is not JSON', async () => {
    const { org, key } = await keyFor(['INGEST']);
    const items = [pharowItem(), pharowItem()];
    const first = await post(JSON.stringify({ version: 'V2', data: items }), { 'x-api-key': key });
    expect(first.status).toBe(200);
    expect(first.json.positions).toEqual({ created: 2, updated: 0, unchanged: 0 });
    // other bytes for the same items (spaces, line breaks, an unknown field over a megabyte long)
    const spaced = JSON.stringify({ pad: 'x'.repeat(1_200_000), data: items }, null, 2);
    const again = await post(spaced, { 'x-api-key': key });
    expect(again.status).toBe(200);
    expect(again.json.positions).toEqual({ created: 0, updated: 0, unchanged: 2 });
    // the two known items would be skipped unread; the third is not JSON, and nothing is stored
    const known = items.map((item) => JSON.stringify(item)).join(',');
    const broken = await post(`{"data":[${known},{"company":{"companyName":"Nouvelle"},"person":tru}]}`, {
      'x-api-key': key,
    });
    expect(broken.status).toBe(400);
    expect(broken.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(broken.json.errors[0].message).toBe('Body is not valid JSON');
    const { positions } = await ok(FindPositionsDocument, {}, { token: org.accessToken });
    expect(positions.edges).toHaveLength(2);
  });

  it('shares the ingest rate limit (10 a minute per organisation) and answers 429 with retry-after', async () => {
    const { key } = await keyFor(['INGEST']);
    const body = JSON.stringify({ data: [] });
    for (let i = 0; i < 10; i++) expect((await post(body, { 'x-api-key': key })).status).toBe(200);
    const limited = await post(body, { 'x-api-key': key });
    expect(limited.status).toBe(429);
    expect(limited.json.errors[0].extensions.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // another organisation is not affected
    const other = await keyFor(['INGEST']);
    expect((await post(body, { 'x-api-key': other.key })).status).toBe(200);
  });
});
