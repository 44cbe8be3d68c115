// Prompt steps: one Chat Completions call with a strict JSON schema ({subject, body}), written from the prompt
// and what helps to write to this prospect. The API key and the prospect's data never reach a log.
import OpenAI from 'openai';
import type { Config } from '../../lib/config.ts';
import type { ProspectData, SenderData } from '../../subgraphs/outreach/services/templates.ts';

export interface AiDraftRequest {
  model: string;
  /** The prompt's text: what to write and how. */
  instructions: string;
  prospect: ProspectData;
  sender: SenderData;
  /** Earlier emails of the thread, oldest first, for a follow-up. */
  thread: { subject: string | null; bodyText: string | null }[];
}

export interface AiUsage {
  /** The model that answered, as the API names it. */
  model: string;
  promptTokens: number | null;
  completionTokens: number | null;
}

export type AiDraft =
  | ({ ok: true; subject: string; body: string } & AiUsage)
  | ({ ok: false; reason: string } & AiUsage);

export interface AiWriter {
  write(request: AiDraftRequest): Promise<AiDraft>;
}

/** The model could not be reached (timeouts, 429 and 5xx after the client's retries): try the task again later. */
export class ModelUnavailableError extends Error {
  override name = 'ModelUnavailableError';
}

// Only what helps to write: no ids, no addresses, phones or registry numbers.
const PROSPECT_FIELDS = {
  position: ['jobTitle'],
  person: ['salutation', 'firstName', 'lastName', 'location'],
  company: [
    'name',
    'brandName',
    'activity',
    'nafSector',
    'employeeRange',
    'foundingYear',
    'growing',
    'websiteUrl',
  ],
} as const;

export function promptFacts(
  prospect: ProspectData,
  sender: SenderData,
): Record<string, Record<string, unknown>> {
  const facts: Record<string, Record<string, unknown>> = {};
  for (const [source, fields] of Object.entries(PROSPECT_FIELDS)) {
    const row = prospect[source as keyof ProspectData] ?? {};
    const picked: Record<string, unknown> = {};
    for (const field of fields) {
      const value = row[field];
      if (value !== null && value !== undefined && value !== '') picked[field] = value;
    }
    facts[source] = picked;
  }
  facts.sender = Object.fromEntries(
    Object.entries({ firstName: sender.firstName, lastName: sender.lastName }).filter(([, v]) => v),
  );
  return facts;
}

const DRAFT_SCHEMA = {
  type: 'object',
  properties: {
    subject: { type: 'string', description: 'The subject line, without "Re:"' },
    body: { type: 'string', description: 'The plain-text body, paragraphs separated by blank lines' },
  },
  required: ['subject', 'body'],
  additionalProperties: false,
} as const;

const SYSTEM = [
  'You write one B2B prospecting email at a time, following the instructions below.',
  'Write plain text, no markdown, no placeholders; sign with the sender first name when given.',
  'Use only the facts given about the prospect; never invent any.',
].join(' ');

export function buildMessages(request: AiDraftRequest): OpenAI.ChatCompletionMessageParam[] {
  const facts = promptFacts(request.prospect, request.sender);
  let user = `Prospect and sender:\n${JSON.stringify(facts, null, 2)}`;
  if (request.thread.length > 0) {
    const earlier = request.thread
      .map((m, i) => `Email ${i + 1}\nSubject: ${m.subject ?? ''}\n\n${m.bodyText ?? ''}`)
      .join('\n\n---\n\n');
    user += `\n\nThis is a follow-up in the same thread. The emails already sent, oldest first:\n\n${earlier}`;
  }
  return [
    { role: 'system', content: `${SYSTEM}\n\nInstructions:\n${request.instructions}` },
    { role: 'user', content: user },
  ];
}

export function createAiWriter(config: Config['openai']): AiWriter | undefined {
  if (!config.apiKey) return undefined;
  const client = new OpenAI({
    apiKey: config.apiKey,
    baseURL: config.baseUrl,
    timeout: config.timeoutMs,
    maxRetries: config.maxRetries,
    // the client logs request details at debug level; the key and the prospect's data stay out of our logs
    logLevel: 'off',
  });
  return {
    async write(request) {
      let completion: OpenAI.ChatCompletion;
      try {
        completion = await client.chat.completions.create({
          model: request.model,
          messages: buildMessages(request),
          response_format: {
            type: 'json_schema',
            json_schema: { name: 'email_draft', strict: true, schema: DRAFT_SCHEMA },
          },
        });
      } catch (error) {
        throw classify(error, request.model);
      }
      const usage: AiUsage = {
        model: completion.model || request.model,
        promptTokens: completion.usage?.prompt_tokens ?? null,
        completionTokens: completion.usage?.completion_tokens ?? null,
      };
      const choice = completion.choices[0];
      if (!choice) return { ok: false, reason: 'The model returned no answer', ...usage };
      if (choice.message.refusal) {
        return { ok: false, reason: `The model refused: ${choice.message.refusal.slice(0, 500)}`, ...usage };
      }
      if (choice.finish_reason === 'length') {
        return { ok: false, reason: 'The model stopped before finishing the email (length)', ...usage };
      }
      const content = choice.message.content?.trim();
      if (!content) return { ok: false, reason: 'The model returned an empty answer', ...usage };
      const draft = parseDraft(content);
      if (!draft)
        return { ok: false, reason: 'The model returned an answer that is not {subject, body}', ...usage };
      return { ok: true, ...draft, ...usage };
    },
  };
}

function parseDraft(content: string): { subject: string; body: string } | undefined {
  try {
    const value = JSON.parse(content) as { subject?: unknown; body?: unknown };
    if (typeof value.subject !== 'string' || typeof value.body !== 'string') return undefined;
    const subject = value.subject.trim();
    const body = value.body.trim();
    return subject && body ? { subject, body } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a failed call means for the draft: a request the API will never take (bad model, bad schema) fails the
 * draft with the reason; anything that may pass later (down, slow, rate-limited, a key being rotated) is tried
 * again through the queue's retry delays.
 */
function classify(error: unknown, model: string): Error {
  if (error instanceof OpenAI.APIError && [400, 404, 422].includes(error.status ?? 0)) {
    return new AiRequestRejected(`The model API refused the request (${error.status}) for model ${model}`);
  }
  const status = error instanceof OpenAI.APIError && error.status ? ` (${error.status})` : '';
  const kind =
    error instanceof OpenAI.APIConnectionTimeoutError
      ? 'timed out'
      : error instanceof OpenAI.APIConnectionError
        ? 'could not be reached'
        : 'failed';
  return new ModelUnavailableError(`The model API ${kind}${status}`);
}

/** The API refused the request itself: trying again would not help. */
export class AiRequestRejected extends Error {
  override name = 'AiRequestRejected';
}
