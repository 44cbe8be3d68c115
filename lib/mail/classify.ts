// What an inbound email is, read from its raw bytes alone: a prospect's reply, an automatic reply (out of office),
// a bounce (hard or soft) or an unsubscribe request sent to our List-Unsubscribe mailto. Pure: no database, no
// network. Bounces are read from their delivery-status report (RFC 3464) first, headers and text second.
import { type AddressObject, type ParsedMail, simpleParser } from 'mailparser';

export type InboundKind = 'reply' | 'auto-reply' | 'bounce' | 'soft-bounce' | 'unsubscribe-request';

export interface Classified {
  kind: InboundKind;
  /** The sender's address, lower-cased. */
  from: string | undefined;
  subject: string | undefined;
  text: string | undefined;
  /** This email's own Message-ID, '<…>'. */
  messageId: string | undefined;
  inReplyTo: string | undefined;
  references: string[];
  /** Bounces: the Message-ID of the email that bounced, from the original attached to the report. */
  bouncedMessageId: string | undefined;
  /** Bounces: the recipients the report says failed, lower-cased. */
  failedRecipients: string[];
  /** Bounces: the enhanced status code (RFC 3463), e.g. '5.1.1'. */
  status: string | undefined;
  /**
   * Soft bounces: 'delayed' when the report only says the remote server is still trying (the email may yet
   * arrive, so it must not be sent again), 'failed' when it gave up.
   */
  action: string | undefined;
}

const MESSAGE_ID = /<[^<>\s]+>/g;
const STATUS_CODE = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/;
// mail systems that write bounces: mailer-daemon@, postmaster@, and Exchange's / Google's own senders
const DSN_SENDER = /^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|bounce[s]?)(\+[^@]*)?@/i;
const FAILURE_SUBJECT =
  /(undeliverable|undelivered mail|delivery status notification|delivery failure|failure notice|returned mail|mail delivery (failed|subsystem)|non remis|non distribuable|échec de (la )?remise)/i;
// out-of-office subjects, English and French (the prefix a client adds, or the whole subject)
const OUT_OF_OFFICE =
  /(\bout of (the )?office\b|\bautomatic reply\b|\bauto[- ]?reply\b|\bautoreply\b|\baway from (the |my )?office\b|\bon vacation\b|\bvacation reply\b|r[ée]ponse automatique|absent du bureau|message d'absence|\bje suis absente?\b|^\s*absence\b|^\s*absent\b|\ben cong[ée]s?\b)/i;
const BULK_PRECEDENCE = new Set(['bulk', 'junk', 'list']);

function headerText(parsed: ParsedMail, name: string): string | undefined {
  const value = parsed.headers.get(name);
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'object' && 'value' in value && typeof value.value === 'string')
    return value.value.trim();
  if (Array.isArray(value)) return value.join(' ').trim();
  return String(value).trim();
}

function firstAddress(address: AddressObject | AddressObject[] | undefined): string | undefined {
  const list = Array.isArray(address) ? address : address ? [address] : [];
  for (const a of list) for (const v of a.value) if (v.address) return v.address.toLowerCase();
  return undefined;
}

function messageIds(value: string | string[] | undefined): string[] {
  const text = Array.isArray(value) ? value.join(' ') : (value ?? '');
  return text.match(MESSAGE_ID) ?? [];
}

/** Header fields of a header block (unfolded), by lower-case name; repeated fields keep their first value. */
function headerFields(block: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!fields.has(name)) fields.set(name, line.slice(colon + 1).trim());
  }
  return fields;
}

interface RecipientReport {
  recipient: string | undefined;
  action: string | undefined;
  status: string | undefined;
}

/** The per-recipient blocks of a message/delivery-status part (the first block is about the message). */
function deliveryReports(content: string): RecipientReport[] {
  return content
    .split(/\r?\n\s*\r?\n/)
    .map(headerFields)
    .filter((f) => f.has('final-recipient') || f.has('original-recipient') || f.has('action'))
    .map((f) => ({
      recipient: addressOf(f.get('final-recipient') ?? f.get('original-recipient')),
      action: f.get('action')?.toLowerCase(),
      status: STATUS_CODE.exec(f.get('status') ?? '')?.[0],
    }));
}

/** 'rfc822; lea@client.fr' → 'lea@client.fr' */
function addressOf(field: string | undefined): string | undefined {
  if (!field) return undefined;
  const value = field.includes(';') ? field.slice(field.indexOf(';') + 1) : field;
  const address = value.trim().replace(/^<|>$/g, '').toLowerCase();
  return address.includes('@') ? address : undefined;
}

function attachmentText(parsed: ParsedMail, types: string[]): string[] {
  return parsed.attachments
    .filter((a) => types.includes(a.contentType.toLowerCase()))
    .map((a) => a.content.toString('utf8'));
}

/** The Message-ID of the original a bounce carries (message/rfc822 or text/rfc822-headers). */
function originalMessageId(parsed: ParsedMail): string | undefined {
  for (const original of attachmentText(parsed, ['message/rfc822', 'text/rfc822-headers'])) {
    const end = original.search(/\r?\n\r?\n/);
    const id = headerFields(end === -1 ? original : original.slice(0, end)).get('message-id');
    const found = messageIds(id)[0];
    if (found) return found;
  }
  // some servers quote the original's headers in the text instead of attaching them
  const quoted = /^\s*Message-ID:\s*(<[^<>\s]+>)/im.exec(parsed.text ?? '');
  return quoted?.[1];
}

function bounceOf(parsed: ParsedMail, from: string | undefined, subject: string) {
  const reports = attachmentText(parsed, ['message/delivery-status']).flatMap(deliveryReports);
  // 'delayed' only says the remote server is still trying; anything else with a 4.x.x or 5.x.x status failed
  const delayed = reports.filter((r) => r.action === 'delayed');
  const failed = reports.filter(
    (r) => r.action === 'failed' || (r.action !== 'delayed' && /^[45]\./.test(r.status ?? '')),
  );
  const xFailed = (headerText(parsed, 'x-failed-recipients') ?? '')
    .split(',')
    .map((a) => a.trim().toLowerCase())
    .filter((a) => a.includes('@'));
  const fromDsnSender = !!from && DSN_SENDER.test(from);
  const contentType = parsed.headers.get('content-type');
  const isReport =
    typeof contentType === 'object' &&
    contentType !== null &&
    'value' in contentType &&
    contentType.value === 'multipart/report' &&
    String(
      (contentType as { params?: Record<string, string> }).params?.['report-type'] ?? '',
    ).toLowerCase() === 'delivery-status';

  if (failed.length > 0 || delayed.length > 0) {
    // a permanent failure of any recipient makes it a bounce; else it is soft (failed for now, or delayed)
    const hard = failed.filter((r) => !r.status?.startsWith('4.'));
    const chosen = hard.length > 0 ? hard : failed.length > 0 ? failed : delayed;
    return {
      kind: hard.length > 0 ? ('bounce' as const) : ('soft-bounce' as const),
      failedRecipients: [...new Set(chosen.map((r) => r.recipient).filter((r): r is string => !!r))],
      status: chosen[0]!.status,
      action: failed.length > 0 ? 'failed' : 'delayed',
    };
  }
  // no readable report: the X-Failed-Recipients header, or a mail system's notice, with a status in its text
  if (xFailed.length > 0 || isReport || (fromDsnSender && FAILURE_SUBJECT.test(subject))) {
    const status = STATUS_CODE.exec(parsed.text ?? '')?.[0];
    const soft = status?.startsWith('4.') ?? false;
    return {
      kind: soft ? ('soft-bounce' as const) : ('bounce' as const),
      failedRecipients: xFailed,
      status,
      action: 'failed',
    };
  }
  return undefined;
}

function isAutoReply(parsed: ParsedMail, subject: string): boolean {
  const autoSubmitted = headerText(parsed, 'auto-submitted')?.toLowerCase();
  if (autoSubmitted && autoSubmitted !== 'no') return true;
  if (parsed.headers.has('x-autoreply') || parsed.headers.has('x-autorespond')) return true;
  const autoResponseSuppress = headerText(parsed, 'x-auto-response-suppress');
  const precedence = headerText(parsed, 'precedence')?.toLowerCase();
  if (precedence === 'auto_reply') return true;
  const outOfOffice = OUT_OF_OFFICE.test(subject);
  if (precedence && BULK_PRECEDENCE.has(precedence)) return outOfOffice;
  // Exchange marks its automatic replies so: the subject alone decides otherwise
  if (autoResponseSuppress && outOfOffice) return true;
  return outOfOffice;
}

/** Reads a raw RFC 5322 email and says what it is. */
export async function classifyInbound(raw: string | Buffer): Promise<Classified> {
  const parsed = await simpleParser(raw, {
    keepDeliveryStatus: true,
    // the original a bounce carries stays an attachment: its headers are what we match on
    ignoreEmbedded: true,
    skipImageLinks: true,
  });
  const from = firstAddress(parsed.from);
  const subject = parsed.subject?.trim() ?? '';
  const base = {
    from,
    subject: parsed.subject,
    text: parsed.text,
    messageId: messageIds(parsed.messageId)[0],
    inReplyTo: messageIds(parsed.inReplyTo)[0],
    references: messageIds(parsed.references),
    bouncedMessageId: undefined,
    failedRecipients: [],
    status: undefined,
    action: undefined,
  };
  const bounce = bounceOf(parsed, from, subject);
  if (bounce) return { ...base, ...bounce, bouncedMessageId: originalMessageId(parsed) };
  if (/^unsubscribe$/i.test(subject)) return { ...base, kind: 'unsubscribe-request' };
  if (isAutoReply(parsed, subject)) return { ...base, kind: 'auto-reply' };
  return { ...base, kind: 'reply' };
}
