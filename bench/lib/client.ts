// The bench's HTTP client: sign-up, API keys, and timed ingest calls through the gateway.
import type { PharowBatch, RawItem, RawValue } from '../fixtures/pharow-generator.ts';

const CALL_TIMEOUT_MS = 120_000;

export interface Counts {
  created: number;
  updated: number;
  unchanged: number;
}

export interface IngestResult {
  received: number;
  companies: Counts;
  people: Counts;
  positions: Counts;
  rejected: { index: number; field: string; message: string }[];
}

export interface Timed<T> {
  ms: number;
  result: T;
}

async function postJson(url: string, body: string, headers: Record<string, string>): Promise<Timed<unknown>> {
  // The clock covers the request and receiving the whole response body; the body was serialised beforehand.
  const started = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`POST ${url} → ${res.status}: ${text.slice(0, 500)}`);
  return { ms, result: JSON.parse(text) };
}

export class GatewayClient {
  constructor(readonly baseUrl: string) {}

  async graphql<T>(query: string, variables: Record<string, unknown>, token?: string): Promise<Timed<T>> {
    return this.graphqlBody<T>(JSON.stringify({ query, variables }), token);
  }

  async graphqlBody<T>(body: string, token?: string): Promise<Timed<T>> {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const { ms, result } = await postJson(`${this.baseUrl}/graphql`, body, headers);
    const { data, errors } = result as { data?: T; errors?: { message: string }[] };
    if (errors?.length || !data) throw new Error(`GraphQL error: ${JSON.stringify(errors).slice(0, 500)}`);
    return { ms, result: data };
  }

  /** A new, empty organisation and its owner's access token. */
  async signUp(label: string): Promise<{ token: string; organisationId: string }> {
    const unique = `${label}-${process.pid}-${Date.now()}`;
    const { result } = await this.graphql<{
      signUp: { accessToken: string; organisation: { id: string } };
    }>('mutation($i: SignUpInput!){ signUp(input:$i){ accessToken organisation { id } } }', {
      i: {
        organisationName: `Bench ${unique}`,
        email: `${unique}@bench.example.com`,
        password: 'bench-password-0123',
      },
    });
    return { token: result.signUp.accessToken, organisationId: result.signUp.organisation.id };
  }

  async createIngestKey(token: string): Promise<string> {
    const { result } = await this.graphql<{ createApiKey: { secret: string } }>(
      'mutation { createApiKey(name:"pharow", scopes:[INGEST]) { secret } }',
      {},
      token,
    );
    return result.createApiKey.secret;
  }

  async ingestGraphql(body: string, token: string): Promise<Timed<IngestResult>> {
    const { ms, result } = await this.graphqlBody<{ ingestPharow: IngestResult }>(body, token);
    return { ms, result: result.ingestPharow };
  }

  async ingestWebhook(body: string, apiKey: string): Promise<Timed<IngestResult>> {
    const { ms, result } = await postJson(`${this.baseUrl}/webhooks/pharow`, body, { 'x-api-key': apiKey });
    return { ms, result: result as IngestResult };
  }
}

export const INGEST_MUTATION = `mutation($input: PharowIngestInput!){ ingestPharow(input:$input){
  received companies{created updated unchanged} people{created updated unchanged}
  positions{created updated unchanged} rejected{index field message} } }`;

type Group = Record<string, RawValue | undefined>;

// The GraphQL input types every Pharow field as String: numbers and booleans are sent as text, null stays null.
function stringifyGroup(group: Group): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(group)) {
    if (value === undefined) continue;
    out[key] = value === null ? null : String(value);
  }
  return out;
}

export function graphqlIngestBody(batch: PharowBatch): string {
  const data = batch.data.map((item: RawItem) => ({
    company: stringifyGroup(item.company as Group),
    person: stringifyGroup(item.person as Group),
    position: stringifyGroup(item.position as Group),
  }));
  return JSON.stringify({ query: INGEST_MUTATION, variables: { input: { version: batch.version, data } } });
}

export function webhookBody(batch: PharowBatch): string {
  return JSON.stringify(batch);
}
