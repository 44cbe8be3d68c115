// Reading the file outbox of system mail (.eml files under DATA_DIR/outbox/system/) as the addressee would
// read their inbox: for the embedded default's users, the tests and the benchmarks.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { systemOutboxDir } from './system-mailer.ts';

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

/** Every mail written to the outbox for this address so far, oldest first. */
export async function readOutbox(dataDir: string, address: string): Promise<ReceivedMail[]> {
  const dir = systemOutboxDir(dataDir);
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.eml')).sort();
  const mails: ReceivedMail[] = [];
  for (const file of files) {
    const mail = parseMail(file, await readFile(path.join(dir, file), 'utf8'));
    if (mail.to === address.toLowerCase()) mails.push(mail);
  }
  return mails;
}
