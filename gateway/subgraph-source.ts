// How the gateway calls its subgraphs: pooled keep-alive connections (undici), bodies read within the
// request's response-size budget, and identical in-flight queries of one identity sent only once.
import { hash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLError } from 'graphql';
import type { Counter } from 'prom-client';
import { Agent } from 'undici';
import type { Identity } from '../lib/auth/identity.ts';
import { responseTooLarge } from './limits.ts';

/** What the data source needs of the gateway's per-request context. */
export interface SubgraphCallContext {
  requestId: string;
  /** Headers sent to every subgraph: the caller's credentials and the request id. */
  forward: Record<string, string>;
  /** The verified caller; undefined for anonymous requests, which never share. */
  identity: Identity | undefined;
  /**
   * Answers this request read, by what was asked: kept when the gateway's short path may hand the request
   * back to Apollo, which then reads each of them again from here instead of asking the subgraph twice.
   */
  answers?: Map<string, unknown>;
}

/** One subgraph answer as read off the wire: shared by every caller of a deduplicated request. */
interface Answer {
  status: number;
  contentType: string;
  cacheControl: string | undefined;
  /** undefined when the body ran past the size it was read with */
  body: Buffer | undefined;
  /** the request id the subgraph saw */
  requestId: string | undefined;
}

// Bodies above this are never shared: ingest-sized requests are mutations anyway, and keys stay small.
const MAX_SHARED_BODY_CHARS = 64 * 1024;

/**
 * The key under which two requests may share one subgraph answer: the whole verified identity (user,
 * organisation, role; or key, organisation, scopes, creator) plus a digest of the credentials forwarded,
 * so a request never rides on one made with another token, even of the same user.
 */
export function dedupeKeyOf(
  identity: Identity | undefined,
  forward: Record<string, string>,
): string | undefined {
  if (!identity) return undefined;
  const credentials = hash(
    'sha256',
    `${forward.authorization ?? ''}\n${forward['x-api-key'] ?? ''}`,
    'base64url',
  );
  const who =
    identity.kind === 'user'
      ? ['user', identity.userId, identity.organisationId, identity.role, identity.email]
      : [
          'apiKey',
          identity.apiKeyId,
          identity.organisationId,
          [...identity.scopes].sort().join(','),
          identity.createdBy ?? '',
        ];
  return JSON.stringify([...who, credentials]);
}

export interface SubgraphSourceOptions {
  name: string;
  url: string;
  agent: Agent;
  maxResponseBytes: number;
  /** Response bytes already read per request context: the size ceiling holds across subgraphs. */
  spent: WeakMap<object, number>;
  dedupe: boolean;
  /** Subgraph requests by outcome: `sent`, or `shared` with an identical one already in flight. */
  requests: Counter<'subgraph' | 'outcome'>;
}

/** The keep-alive pool shared by every subgraph source: `connections` per subgraph. */
export function subgraphAgent(connections: number): Agent {
  return new Agent({ connections, pipelining: 1 });
}

/** Reads a body, cut off once past `maxBytes` (undefined then) instead of buffering it all. */
export async function readLimitedBody(body: NodeJS.ReadableStream & { destroy(): void }, maxBytes: number) {
  return new Promise<Buffer | undefined>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        body.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    body.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    body.on('error', reject);
  });
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Restricts the response's cache policy by the subgraph's Cache-Control, as Apollo's own data source does. */
function restrictCachePolicy(policy: unknown, cacheControl: string | undefined): void {
  if (!policy || typeof policy !== 'object' || !('restrict' in policy)) return;
  const hint: { maxAge: number; scope?: 'PRIVATE' | 'PUBLIC' } = { maxAge: 0 };
  for (const part of (cacheControl ?? '').split(',')) {
    const [name, value] = part.trim().toLowerCase().split('=');
    if (name === 'max-age' && value && /^[0-9]+$/.test(value)) hint.maxAge = Number(value);
    if (name === 'private') hint.scope = 'PRIVATE';
    if (name === 'public') hint.scope = 'PUBLIC';
  }
  (policy as { restrict(hint: unknown): void }).restrict(hint);
}

// One key per request, made on its first shareable fetch: mutations never need one.
const dedupeKeys = new WeakMap<SubgraphCallContext, string | undefined>();

function dedupeKeyFor(context: SubgraphCallContext): string | undefined {
  if (dedupeKeys.has(context)) return dedupeKeys.get(context);
  const key = dedupeKeyOf(context.identity, context.forward);
  dedupeKeys.set(context, key);
  return key;
}

export class SubgraphSource implements GraphQLDataSource<SubgraphCallContext> {
  private readonly inFlight = new Map<string, Promise<Answer>>();
  // parsed once: every request goes to the same place
  private readonly target: { origin: string; path: string };

  // label lookups done once, not per request
  private readonly counted: { sent: { inc(): void }; shared: { inc(): void } };

  constructor(private readonly options: SubgraphSourceOptions) {
    const url = new URL(options.url);
    this.target = { origin: url.origin, path: `${url.pathname}${url.search}` };
    this.counted = {
      sent: options.requests.labels({ subgraph: options.name, outcome: 'sent' }),
      shared: options.requests.labels({ subgraph: options.name, outcome: 'shared' }),
    };
  }

  async process(options: GraphQLDataSourceProcessOptions<SubgraphCallContext>): Promise<Record<string, any>> {
    const { maxResponseBytes, spent } = this.options;
    const incoming = 'incomingRequestContext' in options ? options.incomingRequestContext : undefined;
    const context = incoming ? (options.context as SubgraphCallContext) : undefined;
    const { request: req } = options;
    if (!req.query) throw new Error('Missing query');
    const body = JSON.stringify({
      query: req.query,
      variables: req.variables,
      operationName: req.operationName,
      extensions: req.extensions,
    });
    const headers: Record<string, string> = {};
    // headers the executor adds (a trace request, say) are part of what is asked
    let asked = '';
    if (req.http?.headers) {
      for (const [key, value] of req.http.headers) {
        headers[key] = value;
        asked += `${key}: ${value}\n`;
      }
    }
    headers['content-type'] = 'application/json';
    if (context?.forward) Object.assign(headers, context.forward);

    const used = context ? (spent.get(context) ?? 0) : 0;
    const kept = context?.answers;
    const keptKey = kept ? `${this.options.name}\n${asked}\n${body}` : undefined;
    const again = keptKey !== undefined ? (kept!.get(keptKey) as Answer | undefined) : undefined;
    // Only reads share an answer: a mutation's fetches (its follow-up entity lookups included) run alone.
    const dedupeKey =
      this.options.dedupe &&
      context &&
      incoming?.operation?.operation === 'query' &&
      body.length <= MAX_SHARED_BODY_CHARS
        ? dedupeKeyFor(context)
        : undefined;
    let answer: Answer;
    let shared = false;
    if (again) {
      // read once already for this very request: not asked, and not counted, a second time
      kept!.delete(keptKey!);
      answer = again;
    } else if (dedupeKey !== undefined) {
      const key = `${dedupeKey}\n${asked}\n${body}`;
      const pending = this.inFlight.get(key);
      if (pending) {
        shared = true;
        answer = await pending;
      } else {
        // read up to the whole ceiling: each caller then holds the answer against its own budget
        const sending = this.send(headers, body, maxResponseBytes);
        this.inFlight.set(key, sending);
        const forget = () => {
          if (this.inFlight.get(key) === sending) this.inFlight.delete(key);
        };
        sending.then(forget, forget);
        answer = await sending;
      }
    } else {
      answer = await this.send(headers, body, maxResponseBytes - used);
    }
    if (!again) {
      (shared ? this.counted.shared : this.counted.sent).inc();
      if (keptKey !== undefined) kept!.set(keptKey, answer);
    }

    // read the budget again: other fetches of this request may have landed meanwhile
    const usedNow = context ? (spent.get(context) ?? 0) : 0;
    if (!answer.body || answer.body.length > maxResponseBytes - usedNow)
      throw responseTooLarge(maxResponseBytes);
    if (context) spent.set(context, usedNow + answer.body.length);
    const text = answer.body.toString('utf8');
    const json =
      answer.contentType.startsWith('application/json') ||
      answer.contentType.startsWith('application/graphql-response+json');
    const parsed: unknown = json ? JSON.parse(text) : text;
    if (answer.status < 200 || answer.status > 299) {
      const statusText = STATUS_CODES[answer.status] ?? '';
      throw new GraphQLError(`${answer.status}: ${statusText}`, {
        extensions: {
          response: { url: this.options.url, status: answer.status, statusText, body: parsed },
          ...(answer.status === 401 ? { code: 'UNAUTHENTICATED' } : {}),
          ...(answer.status === 403 ? { code: 'FORBIDDEN' } : {}),
        },
      });
    }
    if (!parsed || typeof parsed !== 'object') {
      throw new Error(`Expected JSON response body, but received: ${parsed}`);
    }
    const result = parsed as { errors?: { extensions?: Record<string, unknown> }[] };
    // errors raised for the request that went out carry its id: give each caller its own
    if (shared && context && Array.isArray(result.errors)) {
      for (const error of result.errors) {
        if (error?.extensions && error.extensions.requestId === answer.requestId) {
          error.extensions.requestId = context.requestId;
        }
      }
    }
    restrictCachePolicy(incoming?.overallCachePolicy, answer.cacheControl);
    return result;
  }

  private async send(headers: Record<string, string>, body: string, maxBytes: number): Promise<Answer> {
    const res = await this.options.agent.request({
      origin: this.target.origin,
      path: this.target.path,
      method: 'POST',
      headers,
      body,
    });
    const declared = Number(res.headers['content-length'] ?? 0);
    let data: Buffer | undefined;
    if (declared > maxBytes) res.body.destroy();
    else data = await readLimitedBody(res.body, maxBytes);
    return {
      status: res.statusCode,
      contentType: header(res.headers['content-type']) ?? '',
      cacheControl: header(res.headers['cache-control']),
      body: data,
      requestId: headers['x-request-id'],
    };
  }
}
