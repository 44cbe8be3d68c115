// A lone ingestPharow mutation takes the gateway's fast path (raw bytes to the CRM subgraph); adding
// `__typename` at the root sends the same mutation through the normal federated path. Both must answer alike.
import { print } from 'graphql';
import { describe, expect, inject, it } from 'vitest';
import { CreateApiKeyDocument, IngestPharowDocument, type PharowItemInput } from './generated/graphql.ts';
import { newOrganisation, ok } from './helpers/client.ts';
import { ownerClient, queuedSearchTerms, withClient, withFailingInsert } from './helpers/db.ts';
import { pharowItem } from './helpers/pharow.ts';
import { eventually } from './helpers/wait.ts';

const FAST = print(IngestPharowDocument);
const NORMAL = FAST.replace('ingestPharow(input: $input)', '__typename\n  ingestPharow(input: $input)');

// The fast path takes bulk requests only (256 KB and up): an ignored version string makes any batch one.
const PADDED_VERSION = `V2${' '.repeat(300_000)}`;

interface Answer {
  status: number;
  headers: Headers;
  body: { data?: any; errors?: { message: string; extensions: Record<string, unknown> }[] };
}

async function call(
  query: string,
  data: unknown[],
  headers: Record<string, string>,
  variables?: Record<string, unknown>,
): Promise<Answer> {
  const res = await fetch(inject('gatewayUrl'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables: variables ?? { input: { version: PADDED_VERSION, data } } }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer['body'] };
}

/** The parts a client sees, minus what differs by design (the request id, `__typename`). */
function comparable(answer: Answer) {
  const { __typename: _t, ...data } = answer.body.data ?? {};
  return {
    status: answer.status,
    contentType: answer.headers.get('content-type'),
    retryAfter: answer.headers.get('retry-after') !== null,
    data: answer.body.data === undefined ? undefined : answer.body.data === null ? null : data,
    errors: answer.body.errors?.map(({ extensions: { requestId, ...extensions }, ...rest }) => ({
      ...rest,
      extensions,
      hasRequestId: typeof requestId === 'string',
    })),
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** How many requests the CRM subgraph answered on its direct ingest entry (the fast path's target). */
async function crmDirectIngests(): Promise<number> {
  const text = await (await fetch(new URL('/metrics', inject('subgraphUrls').crm))).text();
  let total = 0;
  for (const line of text.split('\n'))
    if (
      line.startsWith('http_request_duration_seconds_count{') &&
      line.includes('route="/graphql/ingest-pharow"')
    )
      total += Number(line.split(' ')[1]);
  return total;
}

describe('ingestPharow fast path', () => {
  it('answers a lone ingestPharow exactly as the normal path does, with the request id', async () => {
    const fastOrg = await newOrganisation();
    const normalOrg = await newOrganisation();
    const items: PharowItemInput[] = [
      pharowItem(),
      pharowItem(),
      pharowItem({ position: { positionEmail: 'not an email' } }),
    ];
    const before = await crmDirectIngests();
    const fast = await call(FAST, items, { ...bearer(fastOrg.accessToken), 'x-request-id': 'fast-path-1' });
    // the client's own bytes went to the CRM subgraph's direct entry: no coercion in the gateway or there
    expect(await crmDirectIngests()).toBe(before + 1);
    const normal = await call(NORMAL, items, bearer(normalOrg.accessToken));
    expect(await crmDirectIngests()).toBe(before + 1);
    expect(fast.body.data.ingestPharow.positions.created).toBe(2);
    expect(normal.body.data.__typename).toBe('Mutation');
    expect(comparable(fast)).toEqual(comparable(normal));
    expect(fast.headers.get('x-request-id')).toBe('fast-path-1');
    // its search terms are indexed once it has committed
    await eventually(async () => (await queuedSearchTerms(fastOrg.organisation.id)) === 0, 10_000);
    // the same batch again: unchanged on both paths
    const again = await call(FAST, items, bearer(fastOrg.accessToken));
    expect(again.body.data.ingestPharow.positions).toEqual({ created: 0, updated: 0, unchanged: 2 });
    // a small request stays on the normal path, its body never read ahead of it
    const small = await call(FAST, items, bearer(fastOrg.accessToken), {
      input: { version: 'V2', data: items },
    });
    expect(small.body.data.ingestPharow.positions.unchanged).toBe(2);
    expect(await crmDirectIngests()).toBe(before + 2);
  });

  it('words bad variables, bad credentials and missing scopes like the normal path', async () => {
    const org = await newOrganisation();
    const { createApiKey: readKey } = await ok(
      CreateApiKeyDocument,
      { name: 'bi', scopes: ['READ'] },
      { token: org.accessToken },
    );
    const noName = [{ company: { companySiren: null }, person: { personFirstName: 'A' }, position: {} }];
    const cases: [unknown[], Record<string, string>][] = [
      [noName, bearer(org.accessToken)],
      [[pharowItem()], bearer('pfk_nope_nope')],
      [[pharowItem()], bearer(readKey.secret)],
      [[pharowItem()], {}],
    ];
    for (const [data, headers] of cases) {
      const fast = await call(FAST, data, headers);
      const normal = await call(NORMAL, data, headers);
      expect(fast.status === 200 ? fast.body.errors : fast.status).toBeTruthy();
      expect(comparable(fast)).toEqual(comparable(normal));
    }
  });

  it('sends the body on before checking it, and a batch the check refuses is written by no one', async () => {
    const org = await newOrganisation();
    // ingestible items, and one value GraphQL refuses (a number for a String): the whole request is an error
    const items = [pharowItem(), pharowItem(), pharowItem({ company: { companySiren: 552100554 as never } })];
    const before = await crmDirectIngests();
    const fast = await call(FAST, items, bearer(org.accessToken));
    // the CRM subgraph had the body while the gateway checked it; told to drop it, it wrote nothing
    await eventually(async () => (await crmDirectIngests()) === before + 1, 10_000);
    expect(fast.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(comparable(fast)).toEqual(comparable(await call(NORMAL, items, bearer(org.accessToken))));
    const stored = await withClient(ownerClient(), (c) =>
      c.query('SELECT count(*)::int AS n FROM crm.positions WHERE organisation_id = $1', [
        org.organisation.id,
      ]),
    );
    expect(stored.rows[0].n).toBe(0);
    // the same items without the bad value go through
    const good = await call(FAST, items.slice(0, 2), bearer(org.accessToken));
    expect(good.body.data.ingestPharow.positions.created).toBe(2);
  });

  it('answers a failed write like the normal path, stores nothing, and leaks no SQL', async () => {
    const org = await newOrganisation();
    await withFailingInsert('crm.positions', 'job_title', async (marker) => {
      const items = [pharowItem(), pharowItem({ position: { positionJobTitle: marker } })];
      const fast = await call(FAST, items, bearer(org.accessToken));
      const normal = await call(NORMAL, items, bearer(org.accessToken));
      expect(fast.body.errors?.[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
      expect(JSON.stringify(fast.body)).not.toMatch(/simulated|INSERT|crm\./);
      expect(comparable(fast)).toEqual(comparable(normal));
      const stored = await withClient(ownerClient(), (c) =>
        c.query('SELECT count(*)::int AS n FROM crm.companies WHERE organisation_id = $1', [
          org.organisation.id,
        ]),
      );
      expect(stored.rows[0].n).toBe(0);
    });
  });

  it('counts against the same rate limit and refuses the same way', async () => {
    const org = await newOrganisation();
    // the limit is 10 ingests a minute, whichever path they take
    for (let i = 0; i < 5; i++) {
      expect((await call(FAST, [], bearer(org.accessToken))).status).toBe(200);
      expect((await call(NORMAL, [], bearer(org.accessToken))).status).toBe(200);
    }
    const before = await crmDirectIngests();
    const fast = await call(FAST, [], bearer(org.accessToken));
    const normal = await call(NORMAL, [], bearer(org.accessToken));
    // the refused request never reached the CRM subgraph
    expect(await crmDirectIngests()).toBe(before);
    expect(fast.status).toBe(429);
    expect(fast.body.errors?.[0].extensions.code).toBe('RATE_LIMITED');
    expect(comparable(fast)).toEqual(comparable(normal));
  });

  it('counts a request it hands back to the normal path once', async () => {
    const org = await newOrganisation();
    // refused by the variables check after the fast path counted it: the normal path words the error
    const bad = [pharowItem({ company: { companySiren: 552100554 as never } })];
    for (let i = 0; i < 6; i++) {
      const answer = await call(FAST, bad, bearer(org.accessToken));
      expect(answer.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    }
    // six and four make the ten a minute (counted twice, the sixth above would have been refused)
    for (let i = 0; i < 4; i++) expect((await call(FAST, [], bearer(org.accessToken))).status).toBe(200);
    expect((await call(FAST, [], bearer(org.accessToken))).status).toBe(429);
  });

  it('makes the CRM subgraph verify the caller itself on its direct ingest entry', async () => {
    const org = await newOrganisation();
    const { createApiKey: readKey } = await ok(
      CreateApiKeyDocument,
      { name: 'bi', scopes: ['READ'] },
      { token: org.accessToken },
    );
    const direct = (headers: Record<string, string>) =>
      fetch(new URL('/graphql/ingest-pharow', inject('subgraphUrls').crm), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query: FAST, variables: { input: { data: [pharowItem()] } } }),
      });
    const anonymous = await direct({});
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as Answer['body']).errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
    const reader = await direct(bearer(readKey.secret));
    expect(reader.status).toBe(403);
    expect(((await reader.json()) as Answer['body']).errors?.[0].extensions.code).toBe('FORBIDDEN');
    const owner = await direct(bearer(org.accessToken));
    expect(((await owner.json()) as Answer['body']).data.ingestPharow.positions.created).toBe(1);
  });

  it('refuses on the direct entry a body with an item that is not JSON, even next to known items or skipped', async () => {
    const org = await newOrganisation();
    const item = pharowItem();
    const send = (query: string, items: string) =>
      fetch(new URL('/graphql/ingest-pharow', inject('subgraphUrls').crm), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer(org.accessToken) },
        body: `{"query":${JSON.stringify(query)},"variables":{"input":{"data":[${items}]}}}`,
      });
    const first = await send(FAST, JSON.stringify(item));
    expect(((await first.json()) as Answer['body']).data.ingestPharow.positions.created).toBe(1);
    const broken = `${JSON.stringify(item)},{"company":{"companyName":"Nouvelle"},"person":tru}`;
    const skipped = FAST.replace(
      'ingestPharow(input: $input)',
      'ingestPharow(input: $input) @skip(if: true)',
    );
    for (const query of [FAST, skipped]) {
      const answer = await send(query, broken);
      expect(answer.status).toBe(400);
      const body = (await answer.json()) as Answer['body'];
      expect(body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(body.errors?.[0].message).toBe('Body must be a GraphQL request');
    }
    const again = await send(FAST, JSON.stringify(item));
    expect(((await again.json()) as Answer['body']).data.ingestPharow.positions).toEqual({
      created: 0,
      updated: 0,
      unchanged: 1,
    });
  });
});
