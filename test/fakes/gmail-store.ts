// The Gmail side of the Google fake: one in-memory mailbox per address, with the API paths googleapis calls
// (STACK.md): messages.send (raw + threadId), messages.get (raw, metadata, full), messages.list (q with
// `rfc822msgid:`, labelIds, paging), history.list (messageAdded, 404 for an id older than the mailbox keeps),
// getProfile. Tests read what was sent, deliver inbound mail, and inject failures per API call.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export type GmailCall = 'send' | 'get' | 'list' | 'history' | 'profile';

export interface GmailFailure {
  status: number;
  /** Google's error reason (`rateLimitExceeded`, `userRateLimitExceeded`, `failedPrecondition`…). */
  reason?: string;
  message?: string;
  /** Seconds, sent as a Retry-After header. */
  retryAfter?: number;
  /**
   * For send: the message is stored (and counts as sent) but the answer is this failure, as when Gmail accepted
   * it and the response was lost.
   */
  afterAccepting?: boolean;
}

export interface StoredMessage {
  id: string;
  threadId: string;
  mailbox: string;
  labelIds: string[];
  historyId: number;
  internalDate: number;
  raw: Buffer;
  /** Header values by lower-case name (first occurrence, unfolded, not decoded). */
  headers: Map<string, string>;
}

export interface GmailStore {
  /** Every message in every mailbox, oldest first: sent ones have the SENT label. */
  messages: StoredMessage[];
  /** Sent messages, oldest first. */
  sent(mailbox?: string): StoredMessage[];
  /** Puts an inbound message in the mailbox (INBOX), threaded with the message it answers when there is one. */
  deliver(mailbox: string, raw: string | Buffer, options?: { threadId?: string }): StoredMessage;
  /** The next `times` calls of this kind fail so. */
  fail(call: GmailCall, failure: GmailFailure, times?: number): void;
  /** History older than the mailbox's current point is forgotten: history.list from an earlier id answers 404. */
  expireHistory(mailbox: string): void;
  /** Calls answered, by kind (failures included). */
  calls: Record<GmailCall, number>;
  /** Milliseconds each call waits before answering. */
  latencyMs: number;
  handle(mailbox: string, req: IncomingMessage, res: ServerResponse): Promise<void>;
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
  res.end(JSON.stringify(body));
}

function googleError(res: ServerResponse, failure: GmailFailure): void {
  const reason = failure.reason ?? (failure.status === 429 ? 'rateLimitExceeded' : 'backendError');
  json(
    res,
    failure.status,
    {
      error: {
        code: failure.status,
        message: failure.message ?? reason,
        errors: [{ message: failure.message ?? reason, domain: 'global', reason }],
      },
    },
    failure.retryAfter === undefined ? {} : { 'retry-after': String(failure.retryAfter) },
  );
}

/** Header values by lower-case name, from the header block of a raw RFC 5322 message. */
export function parseHeaders(raw: Buffer | string): Map<string, string> {
  const text = raw.toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  const block = end === -1 ? text : text.slice(0, end);
  const headers = new Map<string, string>();
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return headers;
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const newId = () => randomBytes(8).toString('hex');

export function createGmailStore(): GmailStore {
  const messages: StoredMessage[] = [];
  const failures = new Map<GmailCall, GmailFailure[]>();
  const calls: Record<GmailCall, number> = { send: 0, get: 0, list: 0, history: 0, profile: 0 };
  // history ids run across the whole fake, as Gmail's only grow
  let historyId = 1000;
  const forgottenBefore = new Map<string, number>();

  function addMessage(mailbox: string, raw: Buffer, labelIds: string[], threadId?: string): StoredMessage {
    const headers = parseHeaders(raw);
    let thread =
      threadId && messages.some((m) => m.mailbox === mailbox && m.threadId === threadId)
        ? threadId
        : undefined;
    if (!thread) {
      // Gmail threads a message with the one its In-Reply-To / References name
      const named: string[] =
        `${headers.get('in-reply-to') ?? ''} ${headers.get('references') ?? ''}`.match(/<[^>]+>/g) ?? [];
      if (named.length > 0)
        thread = messages.find(
          (m) => m.mailbox === mailbox && named.includes(m.headers.get('message-id') ?? ''),
        )?.threadId;
    }
    const message: StoredMessage = {
      id: newId(),
      threadId: thread ?? newId(),
      mailbox,
      labelIds,
      historyId: ++historyId,
      internalDate: Date.now(),
      raw,
      headers,
    };
    messages.push(message);
    return message;
  }

  function resource(m: StoredMessage, format: string) {
    const base = {
      id: m.id,
      threadId: m.threadId,
      labelIds: m.labelIds,
      historyId: String(m.historyId),
      internalDate: String(m.internalDate),
      sizeEstimate: m.raw.length,
    };
    if (format === 'raw') return { ...base, raw: m.raw.toString('base64url') };
    const headers = [...m.headers].map(([name, value]) => ({ name, value }));
    return { ...base, payload: { mimeType: 'message/rfc822', headers } };
  }

  async function handle(mailbox: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname.replace(/^\/gmail\/v1\/users\/me/, '');
    const call: GmailCall | undefined =
      req.method === 'POST' && path === '/messages/send'
        ? 'send'
        : req.method === 'GET' && /^\/messages\/[^/]+$/.test(path)
          ? 'get'
          : req.method === 'GET' && path === '/messages'
            ? 'list'
            : req.method === 'GET' && path === '/history'
              ? 'history'
              : req.method === 'GET' && path === '/profile'
                ? 'profile'
                : undefined;
    if (!call) return json(res, 404, { error: { code: 404, message: `No route for ${req.method} ${path}` } });
    calls[call]++;
    const body = call === 'send' ? await bodyOf(req) : '';
    if (api.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, api.latencyMs));
    const failure = failures.get(call)?.shift();
    if (failure && !(call === 'send' && failure.afterAccepting)) return googleError(res, failure);
    const mine = messages.filter((m) => m.mailbox === mailbox);

    switch (call) {
      case 'send': {
        const { raw, threadId } = JSON.parse(body || '{}') as { raw?: string; threadId?: string };
        if (!raw)
          return googleError(res, {
            status: 400,
            reason: 'invalidArgument',
            message: "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
          });
        const decoded = Buffer.from(raw, 'base64url');
        if (!parseHeaders(decoded).get('to'))
          return googleError(res, { status: 400, reason: 'invalidArgument', message: 'Invalid To header' });
        const sent = addMessage(mailbox, decoded, ['SENT'], threadId);
        if (failure) return googleError(res, failure);
        return json(res, 200, { id: sent.id, threadId: sent.threadId, labelIds: sent.labelIds });
      }
      case 'get': {
        const id = decodeURIComponent(path.slice('/messages/'.length));
        const found = mine.find((m) => m.id === id);
        if (!found)
          return googleError(res, {
            status: 404,
            reason: 'notFound',
            message: 'Requested entity was not found.',
          });
        return json(res, 200, resource(found, url.searchParams.get('format') ?? 'full'));
      }
      case 'list': {
        const q = url.searchParams.get('q') ?? '';
        const labels = url.searchParams.getAll('labelIds');
        const wanted = /rfc822msgid:\s*<?([^>\s]+)>?/i.exec(q)?.[1];
        let found = [...mine].reverse();
        if (wanted)
          found = found.filter((m) => m.headers.get('message-id')?.replace(/^<|>$/g, '') === wanted);
        if (labels.length > 0) found = found.filter((m) => labels.every((l) => m.labelIds.includes(l)));
        const size = Math.min(500, Number(url.searchParams.get('maxResults') ?? 100) || 100);
        const from = Number(url.searchParams.get('pageToken') ?? 0) || 0;
        const page = found.slice(from, from + size).map((m) => ({ id: m.id, threadId: m.threadId }));
        return json(res, 200, {
          ...(page.length > 0 ? { messages: page } : {}),
          ...(from + size < found.length ? { nextPageToken: String(from + size) } : {}),
          resultSizeEstimate: found.length,
        });
      }
      case 'history': {
        const start = Number(url.searchParams.get('startHistoryId'));
        if (!Number.isFinite(start) || start < (forgottenBefore.get(mailbox) ?? 0))
          return googleError(res, {
            status: 404,
            reason: 'notFound',
            message: 'Requested entity was not found.',
          });
        const added = mine.filter((m) => m.historyId > start);
        const size = Math.min(500, Number(url.searchParams.get('maxResults') ?? 100) || 100);
        const from = Number(url.searchParams.get('pageToken') ?? 0) || 0;
        const page = added.slice(from, from + size);
        return json(res, 200, {
          ...(page.length > 0
            ? {
                history: page.map((m) => ({
                  id: String(m.historyId),
                  messages: [{ id: m.id, threadId: m.threadId }],
                  messagesAdded: [{ message: { id: m.id, threadId: m.threadId, labelIds: m.labelIds } }],
                })),
              }
            : {}),
          ...(from + size < added.length ? { nextPageToken: String(from + size) } : {}),
          historyId: String(historyId),
        });
      }
      case 'profile':
        return json(res, 200, {
          emailAddress: mailbox,
          messagesTotal: mine.length,
          threadsTotal: new Set(mine.map((m) => m.threadId)).size,
          historyId: String(historyId),
        });
    }
  }

  const api: GmailStore = {
    messages,
    calls,
    latencyMs: 0,
    sent: (mailbox?: string) =>
      messages.filter(
        (m) => m.labelIds.includes('SENT') && (!mailbox || m.mailbox === mailbox.toLowerCase()),
      ),
    deliver: (mailbox: string, raw: string | Buffer, options: { threadId?: string } = {}) =>
      addMessage(
        mailbox.toLowerCase(),
        Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'utf8'),
        ['INBOX', 'UNREAD'],
        options.threadId,
      ),
    fail: (call: GmailCall, failure: GmailFailure, times = 1) => {
      const list = failures.get(call) ?? [];
      for (let i = 0; i < times; i++) list.push(failure);
      failures.set(call, list);
    },
    expireHistory: (mailbox: string) => {
      forgottenBefore.set(mailbox.toLowerCase(), historyId);
    },
    handle,
  };
  return api;
}
