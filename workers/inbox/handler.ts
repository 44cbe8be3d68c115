// One inbox round: claim the Gmail mailboxes whose inbox is due, and read each one's new mail from where its
// history was left. A mailbox read for the first time starts from now; a history id Gmail no longer knows (404)
// is replaced by a bounded full resync of the inbox. Every email is fetched raw and handled by receiveInbound
// in the mailbox's tenant transaction, one email per transaction, and the new history id is stored last, so a
// crash at any point only makes the next round read some emails again (each is handled once per mailbox).
import type { MikroORM } from '@mikro-orm/postgresql';
import type { gmail_v1 } from 'googleapis/build/src/apis/gmail/v1.js';
import { type EntityManager, rawQuery, withTenant } from '../../lib/db/orm.ts';
import { isDatabaseUnavailable } from '../../lib/db/pool.ts';
import { type GmailClients, gmailFailure } from '../../lib/google/gmail-client.ts';
import type { Logger } from '../../lib/telemetry/logger.ts';
import { type InboundOutcome, receiveInbound } from '../../subgraphs/outreach/services/inbound.ts';
import { markNeedsReconnect } from '../../subgraphs/outreach/services/mailbox-health.ts';

export interface InboxDeps {
  orm: MikroORM;
  gmail: GmailClients;
  workerId: string;
  clock: () => Date;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export interface InboxLimits {
  /** Mailboxes claimed per round. */
  batchSize: number;
  /** How long a claimed mailbox stays with this worker if it dies mid-round. */
  leaseSeconds: number;
  /** INBOX_POLL_SECONDS: a mailbox is read again this long after its last read. */
  pollSeconds: number;
  /** A full resync reads at most this many of the newest inbox emails. */
  resyncMaxMessages: number;
}

export const DEFAULT_INBOX_LIMITS: Omit<InboxLimits, 'pollSeconds'> = {
  batchSize: 20,
  leaseSeconds: 300,
  resyncMaxMessages: 2000,
};

export interface MailboxRead {
  mailboxId: string;
  organisationId: string;
  /** started: history id taken for the first time; history: followed; resync: full resync after a 404. */
  mode: 'started' | 'history' | 'resync' | 'needs-reconnect' | 'retry-later';
  outcomes: InboundOutcome[];
}

interface MailboxRow {
  id: string;
  email: string;
  credentials_encrypted: string | null;
  history_id: string | null;
  inbox_checked_at: string | null;
  status: string;
  provider: string;
}

// Google's token endpoint refusing the mailbox's grant: the one answer that means "connect it again". A 401 from
// the Gmail API itself, with a token just issued, is not taken as that by a reader: the next round tries again.
const GRANT_REFUSED = /^(invalid_grant|invalid_client|unauthorized_client|access_denied)\b/;

/**
 * What is logged of a failure: its kind and code, never its message (a database error's message can quote the
 * statement's values, that is the email's text).
 */
function errorSummary(err: unknown): { error: string; code?: string } {
  const code = (err as { code?: unknown })?.code;
  return { error: (err as Error)?.name ?? 'Error', ...(typeof code === 'string' ? { code } : {}) };
}

/** Claims up to `limit` due mailboxes; ids and organisation only. */
export async function claimMailboxes(
  deps: Pick<InboxDeps, 'orm' | 'workerId'>,
  now: Date,
  limits: Pick<InboxLimits, 'batchSize' | 'leaseSeconds' | 'pollSeconds'>,
): Promise<{ organisationId: string; mailboxId: string }[]> {
  const rows = await rawQuery<{ organisation_id: string; id: string }>(
    deps.orm.em.fork(),
    'SELECT organisation_id, id FROM outreach.claim_inbox_mailboxes(?, ?, ?, ?, ?)',
    [limits.batchSize, limits.leaseSeconds, deps.workerId, now, limits.pollSeconds],
  );
  return rows.map((r) => ({ organisationId: r.organisation_id, mailboxId: r.id }));
}

export async function inboxRound(deps: InboxDeps, limits: InboxLimits): Promise<MailboxRead[]> {
  const now = deps.clock();
  const claims = await claimMailboxes(deps, now, limits);
  const reads: MailboxRead[] = [];
  for (const claim of claims) {
    // one mailbox's trouble is its own: the others are still read
    try {
      reads.push(await readMailbox(deps, limits, claim.organisationId, claim.mailboxId, now));
    } catch (err) {
      deps.log.error({ ...errorSummary(err), mailboxId: claim.mailboxId }, 'inbox: mailbox read failed');
      // read again a poll interval later, from the same history point
      await release(deps, claim.organisationId, claim.mailboxId, { checkedAt: now }).catch(() => {});
    }
  }
  return reads;
}

/** Ends this worker's lease; with `checkedAt` the mailbox counts as read then (and `historyId` as its new point). */
async function release(
  deps: InboxDeps,
  organisationId: string,
  mailboxId: string,
  read: { checkedAt: Date; historyId?: string } | undefined,
): Promise<void> {
  await withTenant(deps.orm, organisationId, (em) =>
    rawQuery(
      em,
      `UPDATE outreach.mailboxes SET inbox_leased_by = NULL, inbox_leased_until = NULL,
         inbox_checked_at = coalesce(?, inbox_checked_at), history_id = coalesce(?, history_id)
       WHERE id = ? AND inbox_leased_by = ?`,
      [read?.checkedAt ?? null, read?.historyId ?? null, mailboxId, deps.workerId],
    ),
  );
}

async function readMailbox(
  deps: InboxDeps,
  limits: InboxLimits,
  organisationId: string,
  mailboxId: string,
  now: Date,
): Promise<MailboxRead> {
  const read: MailboxRead = { mailboxId, organisationId, mode: 'history', outcomes: [] };
  const mailbox = await withTenant(deps.orm, organisationId, async (em) => {
    const [row] = await rawQuery<MailboxRow>(
      em,
      `SELECT id, email::text AS email, credentials_encrypted, history_id, inbox_checked_at, status, provider
       FROM outreach.mailboxes WHERE id = ?`,
      [mailboxId],
    );
    return row;
  });
  if (!mailbox?.credentials_encrypted || mailbox.status !== 'ACTIVE' || mailbox.provider !== 'GMAIL') {
    await release(deps, organisationId, mailboxId, { checkedAt: now });
    return { ...read, mode: 'retry-later' };
  }
  try {
    const gmail = await deps.gmail.forMailbox({
      organisationId,
      mailboxId,
      email: mailbox.email,
      credentialsEncrypted: mailbox.credentials_encrypted,
    });
    const receive = async (id: string) => {
      const outcome = await fetchAndReceive(deps, gmail, organisationId, mailboxId, id);
      if (outcome) read.outcomes.push(outcome);
    };
    if (!mailbox.history_id) {
      // first read: from now on (mail from before the mailbox was connected is not ours to judge)
      const { data } = await gmail.users.getProfile({ userId: 'me' });
      await release(deps, organisationId, mailboxId, {
        checkedAt: now,
        historyId: data.historyId ?? undefined,
      });
      return { ...read, mode: 'started' };
    }
    let historyId: string | undefined;
    try {
      historyId = await followHistory(gmail, mailbox.history_id, receive);
    } catch (err) {
      if ((err as { status?: number; response?: { status?: number } }).response?.status !== 404) throw err;
      read.mode = 'resync';
      // the stored point is too old for Gmail: read the recent inbox instead, then start again from now
      const { data: profile } = await gmail.users.getProfile({ userId: 'me' });
      const since = mailbox.inbox_checked_at ? new Date(mailbox.inbox_checked_at) : undefined;
      for (const id of await recentInbox(gmail, since, now, limits.resyncMaxMessages)) await receive(id);
      historyId = profile.historyId ?? undefined;
    }
    await release(deps, organisationId, mailboxId, { checkedAt: now, historyId });
    return read;
  } catch (err) {
    const failure = gmailFailure(err, 'read');
    if (failure.kind === 'auth-revoked' && GRANT_REFUSED.test(failure.reason)) {
      await withTenant(deps.orm, organisationId, (em) => markNeedsReconnect(em, mailboxId, failure.reason));
      await release(deps, organisationId, mailboxId, { checkedAt: now });
      deps.log.warn({ mailboxId, organisationId }, 'inbox: Google refused the mailbox credentials');
      return { ...read, mode: 'needs-reconnect' };
    }
    // rate-limited, unavailable, refused: the emails handled so far stay handled; next round goes on from the
    // stored history id (not moved)
    deps.log.warn(
      { mailboxId, kind: failure.kind, status: failure.status },
      'inbox: Gmail read failed; retrying',
    );
    await release(deps, organisationId, mailboxId, { checkedAt: now });
    return { ...read, mode: 'retry-later' };
  }
}

/** Every page of messageAdded history after `startHistoryId`; returns the history id to continue from. */
async function followHistory(
  gmail: gmail_v1.Gmail,
  startHistoryId: string,
  receive: (id: string) => Promise<void>,
): Promise<string> {
  let pageToken: string | undefined;
  let latest = startHistoryId;
  do {
    const { data } = await gmail.users.history.list({
      userId: 'me',
      startHistoryId,
      historyTypes: ['messageAdded'],
      maxResults: 500,
      ...(pageToken ? { pageToken } : {}),
    });
    for (const entry of data.history ?? []) {
      for (const added of entry.messagesAdded ?? []) {
        const message = added.message;
        // our own sends come back in the history too
        if (!message?.id || message.labelIds?.includes('SENT')) continue;
        await receive(message.id);
      }
    }
    if (data.historyId) latest = data.historyId;
    pageToken = data.nextPageToken ?? undefined;
  } while (pageToken);
  return latest;
}

/** Ids of the inbox's emails since `since` (a day before now when unknown), newest first, at most `max`. */
async function recentInbox(
  gmail: gmail_v1.Gmail,
  since: Date | undefined,
  now: Date,
  max: number,
): Promise<string[]> {
  // Gmail's newer_than takes whole days: a margin of one more, duplicates are skipped anyway
  const days = Math.max(1, Math.ceil((now.getTime() - (since?.getTime() ?? now.getTime())) / 86_400_000) + 1);
  const ids: string[] = [];
  let pageToken: string | undefined;
  do {
    const { data } = await gmail.users.messages.list({
      userId: 'me',
      labelIds: ['INBOX'],
      q: `newer_than:${Math.min(days, 365)}d`,
      maxResults: Math.min(500, max - ids.length),
      ...(pageToken ? { pageToken } : {}),
    });
    for (const m of data.messages ?? []) if (m.id) ids.push(m.id);
    pageToken = data.nextPageToken ?? undefined;
  } while (pageToken && ids.length < max);
  // oldest first: a reply is handled after the automatic reply that came before it
  return ids.reverse();
}

async function alreadyHandled(
  em: EntityManager,
  mailboxId: string,
  providerMessageId: string,
): Promise<boolean> {
  const rows = await rawQuery(
    em,
    'SELECT 1 FROM outreach.inbound_receipts WHERE mailbox_id = ? AND provider_message_id = ?',
    [mailboxId, providerMessageId],
  );
  return rows.length > 0;
}

/** Fetches one email raw (unless handled before) and handles it in the tenant transaction. */
async function fetchAndReceive(
  deps: InboxDeps,
  gmail: gmail_v1.Gmail,
  organisationId: string,
  mailboxId: string,
  providerMessageId: string,
): Promise<InboundOutcome | undefined> {
  if (await withTenant(deps.orm, organisationId, (em) => alreadyHandled(em, mailboxId, providerMessageId)))
    return undefined;
  let data: gmail_v1.Schema$Message;
  try {
    ({ data } = await gmail.users.messages.get({ userId: 'me', id: providerMessageId, format: 'raw' }));
  } catch (err) {
    // deleted between the history and now: nothing to read
    if ((err as { response?: { status?: number } }).response?.status === 404) return undefined;
    throw err;
  }
  if (!data.raw || data.labelIds?.includes('SENT')) return undefined;
  const raw = Buffer.from(data.raw, 'base64url');
  const receivedAt = data.internalDate ? new Date(Number(data.internalDate)) : deps.clock();
  let outcome: InboundOutcome;
  try {
    outcome = await withTenant(deps.orm, organisationId, (em) =>
      receiveInbound(em, mailboxId, raw, {
        providerMessageId,
        threadId: data.threadId ?? undefined,
        receivedAt,
      }),
    );
  } catch (err) {
    if (isDatabaseUnavailable(err)) throw err;
    // one email that cannot be handled must not hold back the mailbox's later mail: logged (ids only), skipped,
    // and looked at again by the next full resync
    deps.log.error(
      { ...errorSummary(err), mailboxId, providerMessageId },
      'inbox: inbound email could not be handled',
    );
    return undefined;
  }
  if (outcome.effect === 'handled')
    deps.log.info(
      {
        mailboxId,
        kind: outcome.kind,
        messageId: outcome.matchedMessageId,
        enrollmentId: outcome.enrollmentId,
      },
      'inbox: inbound email handled',
    );
  return outcome;
}
