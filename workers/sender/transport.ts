// Where an email leaves: Gmail (users.messages.send, looked up by users.messages.list q=rfc822msgid:) or, for
// OUTBOX mailboxes, an .eml file under DATA_DIR/outbox/<mailbox>/ written whole or not at all (temp + rename).
import { randomBytes } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GmailCallError, type GmailClients } from '../../lib/google/gmail-client.ts';
import type { SendJob } from '../../subgraphs/outreach/services/sending-prepare.ts';

export interface Delivered {
  /** Gmail's message id, or the .eml file's name. */
  id: string;
  threadId: string | null;
}

export interface Transport {
  /** The email if it is already in the mailbox (sent by an earlier attempt), found by its Message-ID. */
  lookup(job: SendJob): Promise<Delivered | null>;
  send(job: SendJob, raw: Buffer): Promise<Delivered>;
}

/** The folder of a mailbox's .eml files: its address, kept to characters safe in a file name. */
export function outboxFolder(dataDir: string, mailboxEmail: string): string {
  return path.resolve(dataDir, 'outbox', mailboxEmail.toLowerCase().replace(/[^a-z0-9@._+-]/g, '_'));
}

export function outboxTransport(dataDir: string): Transport {
  const fileOf = (job: SendJob) =>
    path.join(outboxFolder(dataDir, job.mailbox.email), `${job.messageId}.eml`);
  // a follow-up keeps its thread's id; a first email starts a thread named after its file
  const delivered = (job: SendJob): Delivered => ({
    id: `${job.messageId}.eml`,
    threadId: job.threadId ?? `${job.messageId}.eml`,
  });
  return {
    async lookup(job) {
      const found = await stat(fileOf(job)).then(
        () => true,
        (error) => {
          if (error.code === 'ENOENT') return false;
          throw error;
        },
      );
      return found ? delivered(job) : null;
    },
    async send(job, raw) {
      const file = fileOf(job);
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const part = `${file}.${randomBytes(4).toString('hex')}.part`;
      await writeFile(part, raw, { mode: 0o600 });
      await rename(part, file);
      return delivered(job);
    },
  };
}

export function gmailTransport(clients: GmailClients, timeoutMs: number): Transport {
  const gmailOf = (job: SendJob) => {
    if (!job.mailbox.credentialsEncrypted)
      throw new GmailCallError('auth-revoked', 'The mailbox has no Gmail credentials', undefined, undefined);
    return clients
      .forMailbox({
        organisationId: job.organisationId,
        mailboxId: job.mailbox.id,
        email: job.mailbox.email,
        credentialsEncrypted: job.mailbox.credentialsEncrypted,
      })
      .catch((error: Error) => {
        // credentials that cannot be opened (another key, no service account) need the mailbox connected again;
        // these errors carry no secret
        throw new GmailCallError('auth-revoked', error.message, undefined, undefined);
      });
  };
  return {
    async lookup(job) {
      const gmail = await gmailOf(job);
      const { data } = await gmail.users.messages.list(
        { userId: 'me', q: `rfc822msgid:${job.rfcMessageId.replace(/^<|>$/g, '')}`, maxResults: 1 },
        { timeout: timeoutMs },
      );
      const found = data.messages?.[0];
      return found?.id ? { id: found.id, threadId: found.threadId ?? null } : null;
    },
    async send(job, raw) {
      const gmail = await gmailOf(job);
      const { data } = await gmail.users.messages.send(
        {
          userId: 'me',
          requestBody: {
            raw: raw.toString('base64url'),
            ...(job.threadId ? { threadId: job.threadId } : {}),
          },
        },
        // the client never retries a send: a timeout is an unknown outcome, settled by the next lookup
        { timeout: timeoutMs },
      );
      if (!data.id)
        throw new GmailCallError('unknown-outcome', 'Gmail answered without an id', 200, undefined);
      return { id: data.id, threadId: data.threadId ?? null };
    },
  };
}
