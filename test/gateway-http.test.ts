// The HTTP shell in front of GraphQL: body limits whether or not the length is declared, bad JSON, paths.
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { gatewayWith } from './helpers/gateway.ts';

/** A POST sent in chunks, without Content-Length. */
function chunkedPost(url: string, chunks: string[]): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')) }),
        );
      },
    );
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('request bodies and paths', () => {
  it('refuses a chunked body past MAX_BODY_BYTES with 413, and reads one within it', async () => {
    const gateway = await gatewayWith({ MAX_BODY_BYTES: '2048' });
    const big = await chunkedPost(gateway.url, [
      '{"query":"{ __typename }","variables":{"pad":"',
      'x'.repeat(1500),
      'x'.repeat(1500),
      '"}}',
    ]);
    expect(big.status).toBe(413);
    expect(big.body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    const small = await chunkedPost(gateway.url, ['{"query":', '"{ __typename }"}']);
    expect(small).toEqual({ status: 200, body: { data: { __typename: 'Query' } } });
  });

  it('refuses an answer the gateway builds itself past MAX_RESPONSE_BYTES, sending none of it', async () => {
    const gateway = await gatewayWith({ MAX_RESPONSE_BYTES: '5000' });
    const query = '{ __schema { types { name description fields { name description } } } }';
    const res = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body.data).toBeUndefined();
    expect(body.errors[0].extensions).toMatchObject({
      code: 'QUERY_TOO_COMPLEX',
      maxResponseBytes: 5000,
      requestId: res.headers.get('x-request-id'),
    });
    const small = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __type(name: "Query") { name } }' }),
    });
    expect(await small.json()).toEqual({ data: { __type: { name: 'Query' } } });
  });

  it('answers a body that is not JSON with 400 BAD_USER_INPUT', async () => {
    const gateway = await gatewayWith({});
    const res = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": ',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('serves GraphQL on / and /graphql, with or without a query string, and 404 elsewhere', async () => {
    const gateway = await gatewayWith({});
    const origin = `http://127.0.0.1:${gateway.port}`;
    for (const path of ['/', '/graphql', '/graphql?x=1', '/?x=1']) {
      const res = await fetch(`${origin}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"query":"{ __typename }"}',
      });
      expect(await res.json(), path).toEqual({ data: { __typename: 'Query' } });
    }
    const get = await fetch(`${origin}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(await get.json()).toEqual({ data: { __typename: 'Query' } });
    const missing = await fetch(`${origin}/nowhere`, { method: 'POST' });
    expect(missing.status).toBe(404);
  });
});
