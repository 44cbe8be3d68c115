// Reading the system outbox (.eml files under DATA_DIR/outbox/system/) as the addressee would read their inbox.
import { inject } from 'vitest';
import { type ReceivedMail, readOutbox } from '../../lib/mail/outbox-reader.ts';
import { AcceptInvitationDocument, InviteMemberDocument, type Role } from '../generated/graphql.ts';
import { ok, PASSWORD, uniqueEmail } from './client.ts';

export type { ReceivedMail };

/** Every mail sent to this address so far, oldest first. */
export function inbox(address: string): Promise<ReceivedMail[]> {
  return readOutbox(inject('dataDir'), address);
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
