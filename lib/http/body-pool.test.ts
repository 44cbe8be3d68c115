import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../errors.ts';
import { readPooledBody } from './body-pool.ts';

const LIMIT = 4 * 1024 * 1024;
let server: Server;
let url: string;

beforeAll(async () => {
  // answers the body's hash, read after a pause so that concurrent requests hold their buffers together
  server = createServer(async (req, res) => {
    try {
      const { body, release } = await readPooledBody(req, LIMIT);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const digest = createHash('sha256').update(body).digest('hex');
      release();
      res.end(JSON.stringify({ digest, length: body.length }));
    } catch (error) {
      res.statusCode = error instanceof AppError ? 413 : 500;
      res.end(JSON.stringify({ code: (error as AppError).code }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const post = async (body: Buffer) => {
  const res = await fetch(url, { method: 'POST', body });
  return {
    status: res.status,
    json: (await res.json()) as { digest?: string; length?: number; code?: string },
  };
};
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('readPooledBody', () => {
  it('gives each request exactly its own bytes, one after another and at the same time', async () => {
    const bodies = [3_000_000, 1_500_000, 2_200_000, 100, 3_900_000].map((n) => randomBytes(n));
    for (const body of bodies)
      expect((await post(body)).json).toEqual({ digest: sha(body), length: body.length });
    const answers = await Promise.all(bodies.map(post));
    expect(answers.map((a) => a.json.digest)).toEqual(bodies.map(sha));
  });

  it('refuses a body over the limit with PAYLOAD_TOO_LARGE', async () => {
    const answer = await post(randomBytes(LIMIT + 1));
    expect(answer.status).toBe(413);
    expect(answer.json.code).toBe('PAYLOAD_TOO_LARGE');
  });
});
