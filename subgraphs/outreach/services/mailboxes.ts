// Connecting a sending mailbox: its settings checked, its Gmail credentials tried against Google, then
// stored sealed. Connecting an address the organisation already has reconnects that mailbox.
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '../../../lib/db/orm.ts';
import { AppError, badInput, ErrorCode } from '../../../lib/errors.ts';
import {
  DelegationUnavailable,
  type GmailCredentials,
  GoogleAuthRefused,
  GoogleUnreachable,
  sealGmailCredentials,
  verifyGmailCredentials,
} from '../../../lib/google/gmail-auth.ts';
import { normaliseEmail } from '../../../lib/validation/email.ts';
import { isTimeZone } from '../../../lib/validation/timezone.ts';
import type { OutreachDeps } from '../deps.ts';
import { MailboxAuthKind, MailboxProvider, MailboxStatus } from '../entities/enums.ts';
import { Mailbox } from '../entities/mailbox.entity.ts';

export interface ConnectMailboxInput {
  email: string;
  displayName?: string | null;
  provider: MailboxProvider;
  dailyLimit?: number | null;
  credentials?: unknown;
  minIntervalSeconds?: number | null;
  timezone?: string | null;
}

const CREDENTIALS_SHAPE =
  'GMAIL credentials are {"clientId", "clientSecret", "refreshToken"} or {"delegated": true}';

function intIn(
  value: number | null | undefined,
  field: string,
  min: number,
  max: number,
): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw badInput(`${field} must be between ${min} and ${max}`, { field });
  }
  return value;
}

/** The credentials a provider needs, in the shape they are stored; BAD_USER_INPUT for anything else. */
function parseCredentials(provider: MailboxProvider, raw: unknown): GmailCredentials | undefined {
  if (provider === MailboxProvider.OUTBOX) {
    if (raw !== null && raw !== undefined) {
      throw badInput('OUTBOX mailboxes keep mail on the machine and take no credentials', {
        field: 'credentials',
      });
    }
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw badInput(CREDENTIALS_SHAPE, { field: 'credentials' });
  }
  const fields = raw as Record<string, unknown>;
  const keys = Object.keys(fields).sort().join(',');
  if (keys === 'delegated' && fields.delegated === true) return { kind: 'DELEGATED' };
  const text = (v: unknown) => typeof v === 'string' && v.trim() !== '' && v.length <= 4096;
  if (
    keys === 'clientId,clientSecret,refreshToken' &&
    [fields.clientId, fields.clientSecret, fields.refreshToken].every(text)
  ) {
    return {
      kind: 'OAUTH',
      clientId: (fields.clientId as string).trim(),
      clientSecret: (fields.clientSecret as string).trim(),
      refreshToken: (fields.refreshToken as string).trim(),
    };
  }
  throw badInput(CREDENTIALS_SHAPE, { field: 'credentials' });
}

async function verify(credentials: GmailCredentials, email: string, deps: OutreachDeps): Promise<void> {
  try {
    await verifyGmailCredentials(credentials, email, deps.google);
  } catch (error) {
    if (error instanceof GoogleAuthRefused) {
      throw badInput(`${error.message} for ${email}`, { field: 'credentials', reason: error.reason });
    }
    if (error instanceof DelegationUnavailable) throw badInput(error.message, { field: 'credentials' });
    if (error instanceof GoogleUnreachable) {
      throw new AppError(ErrorCode.Unavailable, `${error.message}; the mailbox was not connected, try again`);
    }
    throw error;
  }
}

/** Checks everything, asks Google (outside any transaction: nothing is written yet), then writes. */
export async function connectMailbox(
  em: () => Promise<EntityManager>,
  deps: OutreachDeps,
  caller: { organisationId: string; userId: string },
  input: ConnectMailboxInput,
): Promise<Mailbox> {
  const email = normaliseEmail(input.email);
  if (!email) throw badInput('email is not a valid email address', { field: 'email' });
  const displayName = input.displayName?.trim() || null;
  if (displayName && displayName.length > 200) {
    throw badInput('displayName is at most 200 characters', { field: 'displayName' });
  }
  const dailyLimit = intIn(input.dailyLimit, 'dailyLimit', 1, 2000);
  const minIntervalSeconds = intIn(input.minIntervalSeconds, 'minIntervalSeconds', 0, 86_400);
  const timezone = input.timezone ?? undefined;
  if (timezone !== undefined && !isTimeZone(timezone)) {
    throw badInput(`timezone "${timezone}" is not an IANA timezone (e.g. Europe/Paris)`, {
      field: 'timezone',
    });
  }
  const credentials = parseCredentials(input.provider, input.credentials);
  if (credentials) await verify(credentials, email, deps);

  const manager = await em();
  let mailbox = await manager.findOne(Mailbox, { email });
  if (!mailbox) {
    mailbox = Object.assign(new Mailbox(), {
      id: randomUUID(),
      organisationId: caller.organisationId,
      email,
      createdBy: caller.userId,
    });
    manager.persist(mailbox);
  }
  mailbox.provider = input.provider;
  mailbox.displayName = displayName;
  mailbox.dailyLimit = dailyLimit ?? mailbox.dailyLimit;
  mailbox.minIntervalSeconds = minIntervalSeconds ?? mailbox.minIntervalSeconds;
  mailbox.timezone = timezone ?? mailbox.timezone;
  mailbox.status = MailboxStatus.ACTIVE;
  mailbox.statusReason = null;
  mailbox.authKind = credentials ? MailboxAuthKind[credentials.kind] : MailboxAuthKind.NONE;
  mailbox.credentialsEncrypted = credentials
    ? sealGmailCredentials(deps.secrets, caller.organisationId, mailbox.id, credentials)
    : null;
  await manager.flush();
  return mailbox;
}
