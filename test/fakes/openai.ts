// A local stand-in for OpenAI's Chat Completions endpoint, spoken to by the real `openai` client through
// OPENAI_BASE_URL. It answers after a configurable latency, plays scripted failures (429 with retry-after,
// 500, a refusal, an empty or unparsable answer) and records every request it saw.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Scripted =
  | { kind: 'status'; status: number; retryAfterSeconds?: number }
  | { kind: 'refusal'; text: string }
  | { kind: 'empty' }
  | { kind: 'unparsable' };

export interface RecordedRequest {
  body: {
    model: string;
    messages: { role: string; content: string }[];
    response_format?: { type: string; json_schema?: { name: string; strict?: boolean; schema: unknown } };
    [key: string]: unknown;
  };
  authorization: string | undefined;
  startedAt: number;
  endedAt: number;
  /** What the fake answered: a status code, or 'draft' / a scripted kind. */
  answer: string;
}

export interface FakeOpenAI {
  /** The base URL to give the client (`…/v1`). */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Milliseconds before each answer. */
  latencyMs: number;
  /** Answers played in order before the normal ones; `when` picks the requests a script applies to. */
  script(answers: Scripted[], when?: (request: RecordedRequest['body']) => boolean): void;
  /** The largest number of requests in flight at once among those `which` selects. */
  maxConcurrency(which?: (request: RecordedRequest) => boolean): number;
  close(): Promise<void>;
}

/** The draft the fake writes: it names the prospect's first name when the request carries one. */
function draftFor(body: RecordedRequest['body']): { subject: string; body: string } {
  const user = body.messages.find((m) => m.role === 'user')?.content ?? '';
  const firstName = /"firstName":\s*"([^"]+)"/.exec(user)?.[1] ?? 'there';
  return { subject: `An idea for you, ${firstName}`, body: `Hello ${firstName},\n\nA short note.\n\nBest` };
}

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

export async function startFakeOpenAI(options: { latencyMs?: number } = {}): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  const scripts: { answers: Scripted[]; when: (request: RecordedRequest['body']) => boolean }[] = [];
  let counter = 0;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const startedAt = Date.now();
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RecordedRequest['body'];
      const recorded: RecordedRequest = {
        body,
        authorization: req.headers.authorization,
        startedAt,
        endedAt: startedAt,
        answer: 'draft',
      };
      requests.push(recorded);
      await new Promise((resolve) => setTimeout(resolve, fake.latencyMs));
      const script = scripts.find((s) => s.answers.length > 0 && s.when(body));
      const scripted = script?.answers.shift();
      recorded.endedAt = Date.now();
      if (scripted?.kind === 'status') {
        recorded.answer = String(scripted.status);
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (scripted.retryAfterSeconds !== undefined)
          headers['retry-after'] = String(scripted.retryAfterSeconds);
        res.writeHead(scripted.status, headers);
        res.end(JSON.stringify({ error: { message: `scripted ${scripted.status}`, type: 'server_error' } }));
        return;
      }
      let message: { role: 'assistant'; content: string | null; refusal: string | null };
      if (scripted?.kind === 'refusal')
        message = { role: 'assistant', content: null, refusal: scripted.text };
      else if (scripted?.kind === 'empty') message = { role: 'assistant', content: '', refusal: null };
      else if (scripted?.kind === 'unparsable')
        message = { role: 'assistant', content: 'Sure! Here is your email', refusal: null };
      else message = { role: 'assistant', content: JSON.stringify(draftFor(body)), refusal: null };
      recorded.answer = scripted?.kind ?? 'draft';
      const promptTokens = body.messages.reduce((n, m) => n + words(m.content), 0);
      const completionTokens = words(message.content ?? message.refusal ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: `chatcmpl-${++counter}`,
          object: 'chat.completion',
          created: Math.floor(startedAt / 1000),
          model: `${body.model}-2024-07-18`,
          choices: [{ index: 0, message, finish_reason: 'stop', logprobs: null }],
          usage: {
            prompt_tokens: promptTokens,
            completion_tokens: completionTokens,
            total_tokens: promptTokens + completionTokens,
          },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const fake: FakeOpenAI = {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    latencyMs: options.latencyMs ?? 0,
    script(answers, when = () => true) {
      scripts.push({ answers: [...answers], when });
    },
    maxConcurrency(which = () => true) {
      // +1 at each start, -1 at each end; ends sort before starts at the same instant
      const edges = requests
        .filter(which)
        .flatMap((r) => [
          { at: r.startedAt, step: 1 },
          { at: r.endedAt, step: -1 },
        ])
        .sort((a, b) => a.at - b.at || a.step - b.step);
      let current = 0;
      let max = 0;
      for (const edge of edges) {
        current += edge.step;
        max = Math.max(max, current);
      }
      return max;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
  return fake;
}
