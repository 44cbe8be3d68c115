// The raw RFC 5322 message of an outreach email, built by nodemailer's MailComposer (CRLF lines, encoded
// headers, multipart text + HTML). Every email carries our stable Message-ID and RFC 8058 one-click
// unsubscribe headers; a follow-up names the emails it answers so it lands in the same thread.
import MailComposer from 'nodemailer/lib/mail-composer';

export interface OutgoingEmail {
  from: { address: string; name: string | null };
  to: string;
  subject: string;
  text: string;
  html: string | null;
  /** `<id@domain>`, generated once per message and kept across retries. */
  messageId: string;
  date: Date;
  /** The https URL of the one-click unsubscribe token. */
  unsubscribeUrl: string;
  /** The previous email's Message-ID (follow-ups in the same thread). */
  inReplyTo?: string | null;
  /** Every earlier Message-ID of the thread, oldest first. */
  references?: readonly string[];
}

export class UnsafeHeader extends Error {
  constructor(readonly field: string) {
    super(`${field} must be one line`);
    this.name = 'UnsafeHeader';
  }
}

const MESSAGE_ID = /^<[^<>\s@]+@[^<>\s@]+>$/;

/** Refuses what would break out of its header: a line break in a subject or name, a malformed id. */
function checkHeaders(email: OutgoingEmail): void {
  const oneLine = {
    subject: email.subject,
    to: email.to,
    from: email.from.address,
    name: email.from.name ?? '',
  };
  for (const [field, value] of Object.entries(oneLine))
    if (/[\r\n\0]/.test(value)) throw new UnsafeHeader(field);
  for (const id of [email.messageId, email.inReplyTo ?? '<a@b>', ...(email.references ?? [])]) {
    if (!MESSAGE_ID.test(id)) throw new UnsafeHeader('Message-ID');
  }
  if (!/^https?:\/\/[^\s<>,]+$/.test(email.unsubscribeUrl)) throw new UnsafeHeader('List-Unsubscribe');
}

/** The message, CRLF line endings, ready for Gmail's `raw` (base64url) or an .eml file. */
export async function composeEmail(email: OutgoingEmail): Promise<Buffer> {
  checkHeaders(email);
  const headers: Record<string, string> = {
    // RFC 8058: the https URI is POSTed to by the mailbox provider; the mailto one is the fallback of RFC 2369
    'List-Unsubscribe': `<${email.unsubscribeUrl}>, <mailto:${email.from.address}?subject=unsubscribe>`,
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  };
  const references = email.references ?? [];
  const composer = new MailComposer({
    from: email.from.name ? { name: email.from.name, address: email.from.address } : email.from.address,
    to: email.to,
    subject: email.subject,
    text: email.text,
    ...(email.html ? { html: email.html } : {}),
    messageId: email.messageId,
    date: email.date,
    ...(email.inReplyTo ? { inReplyTo: email.inReplyTo } : {}),
    ...(references.length > 0 ? { references: [...references] } : {}),
    headers,
    newline: 'windows',
    textEncoding: 'quoted-printable',
  });
  return composer.compile().build();
}
