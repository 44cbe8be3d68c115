// Reading the system outbox (.eml files under DATA_DIR/outbox/system/) as the addressee would read their inbox.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { inject } from 'vitest';
import { AcceptInvitationDocument, InviteMemberDocument, type Role } from '../generated/graphql.ts';
import { ok, PASSWORD, uniqueEmail } from './client.ts';

export interface ReceivedMail {
  file: string;
  to: string;
  subject: string;
  text: string;
  /** The token of the mail's link (invitation or password reset). */
  token: string | undefined;
}

function decodeQuotedPrintable(body: string): string {
  const bytes = body
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function decodeHeader(value: string): string {
  return value.replace(/=\?utf-8\?([BQ])\?([^?]*)\?=/gi, (_, enc: string, data: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64').toString('utf8')
      : decodeQuotedPrintable(data.replace(/_/g, ' ')),
  );
}

export function parseMail(file: string, raw: string): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const body = raw.slice(split + 4);
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  const encoding = headers.get('content-transfer-encoding')?.toLowerCase();
  const text =
    encoding === 'quoted-printable'
      ? decodeQuotedPrintable(body)
      : encoding === 'base64'
        ? Buffer.from(body, 'base64').toString('utf8')
        : body;
  return {
    file,
    to: (headers.get('to') ?? '').replace(/^.*<|>.*$/g, '').toLowerCase(),
    subject: decodeHeader(headers.get('subject') ?? ''),
    text,
    token: /[?&]token=([A-Za-z0-9_-]+)/.exec(text)?.[1],
  };
}

/** Every mail sent to this address so far, oldest first. */
export async function inbox(address: string): Promise<ReceivedMail[]> {
  const dir = path.join(inject('dataDir'), 'outbox', 'system');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.eml')).sort();
  const mails: ReceivedMail[] = [];
  for (const file of files) {
    const mail = parseMail(file, await readFile(path.join(dir, file), 'utf8'));
    if (mail.to === address.toLowerCase()) mails.push(mail);
  }
  return mails;
}

/** Waits for the count-th mail to this address whose subject matches (some mails are sent after the answer). */
export async function waitForMail(
  address: string,
  subject: RegExp,
  count = 1,
  timeoutMs = 5000,
): Promise<ReceivedMail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = (await inbox(address)).filter((m) => subject.test(m.subject));
    if (mails.length >= count) return mails[count - 1];
    if (Date.now() > deadline) throw new Error(`no mail "${subject}" #${count} for ${address}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const INVITATION = /invited to join/;
export const PASSWORD_RESET = /Reset your ProspectFlow password/;

/** Invites a new address with a role and accepts from its mailbox: the new member's session. */
export async function addMember(ownerToken: string, role: Role, email = uniqueEmail(role.toLowerCase())) {
  await ok(InviteMemberDocument, { email, role }, { token: ownerToken });
  const mail = await waitForMail(email, INVITATION);
  const { acceptInvitation } = await ok(AcceptInvitationDocument, { token: mail.token!, password: PASSWORD });
  return acceptInvitation;
}
