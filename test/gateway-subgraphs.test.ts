// How the gateway talks to a subgraph: a bounded pool of reused keep-alive connections, and no redirects.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { type RunningGateway, startGateway } from '../gateway/gateway.ts';
import { loadConfig } from '../lib/config.ts';
import { errorCode, gql, newOrganisation } from './helpers/client.ts';

const ME = 'query Me { me { email } }';

/** A pass-through in front of the IAM subgraph that counts connections and requests, or redirects. */
async function iamProxy(): Promise<{
  url: string;
  sockets: Set<Socket>;
  requests: () => number;
  redirect: (on: boolean) => void;
  server: Server;
}> {
  const target = inject('subgraphUrls').iam;
  const sockets = new Set<Socket>();
  let requests = 0;
  let redirecting = false;
  const read = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const server = createServer(async (req, res) => {
    sockets.add(req.socket);
    requests++;
    const body = await read(req);
    if (redirecting && req.url !== '/followed') {
      // same origin, so a client that follows it would keep the credentials
      res.writeHead(307, { location: '/followed' });
      res.end();
      return;
    }
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(key))
        headers[key] = value;
    }
    const answer = await fetch(target, { method: 'POST', headers, body });
    res.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'application/json',
    });
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    sockets,
    requests: () => requests,
    redirect: (on) => {
      redirecting = on;
    },
    server,
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function gatewayThrough(proxyUrl: string, env: Record<string, string>): Promise<RunningGateway> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'fatal',
    DATABASE_URL: inject('databaseUrl'),
    DATA_DIR: inject('dataDir'),
    ...env,
  });
  const gateway = await startGateway(
    { ...config, subgraphUrls: { ...(inject('subgraphUrls') as any), iam: proxyUrl } },
    { port: 0, host: '127.0.0.1' },
  );
  cleanups.push(() => gateway.stop());
  return gateway;
}

describe('gateway to subgraph connections', () => {
  it('keeps at most SUBGRAPH_CONNECTIONS keep-alive connections to a subgraph and reuses them', async () => {
    const proxy = await iamProxy();
    cleanups.push(() => new Promise((resolve) => proxy.server.close(() => resolve())));
    const gateway = await gatewayThrough(proxy.url, { SUBGRAPH_CONNECTIONS: '2', SUBGRAPH_DEDUPE: 'off' });
    const org = await newOrganisation();
    for (let burst = 0; burst < 2; burst++) {
      const answers = await Promise.all(
        Array.from({ length: 30 }, () => gql(ME, undefined, { token: org.accessToken, url: gateway.url })),
      );
      for (const answer of answers) expect(answer.data).toEqual({ me: { email: org.user.email } });
    }
    expect(proxy.requests()).toBe(60);
    expect(proxy.sockets.size).toBeLessThanOrEqual(2);
    proxy.server.closeAllConnections();
  });

  it('never follows a redirect from a subgraph: the caller gets an error, not the redirected answer', async () => {
    const proxy = await iamProxy();
    cleanups.push(() => new Promise((resolve) => proxy.server.close(() => resolve())));
    const gateway = await gatewayThrough(proxy.url, {});
    const org = await newOrganisation();
    proxy.redirect(true);
    const res = await gql<{ me: { email: string } }, never>(ME, undefined, {
      token: org.accessToken,
      url: gateway.url,
    });
    // followed, the redirect would have come back here and reached IAM with the user's token
    expect(proxy.requests()).toBe(1);
    expect(res.data?.me).toBeUndefined();
    expect(errorCode(res)).toBe('INTERNAL_SERVER_ERROR');
    proxy.redirect(false);
    const again = await gql(ME, undefined, { token: org.accessToken, url: gateway.url });
    expect(again.data).toEqual({ me: { email: org.user.email } });
    expect(errorCode(again)).toBeUndefined();
    proxy.server.closeAllConnections();
  });
});
