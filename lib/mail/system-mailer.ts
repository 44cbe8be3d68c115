// System mail (invitations, password resets): SMTP when SMTP_URL is set, otherwise .eml files in the
// data directory's outbox, so a single machine with no mail server still delivers them somewhere readable.
import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from '../telemetry/logger.ts';

export interface SystemMail {
  to: string;
  subject: string;
  text: string;
}

export interface SystemMailer {
  send(mail: SystemMail): Promise<void>;
}

export function systemOutboxDir(dataDir: string): string {
  return path.resolve(dataDir, 'outbox', 'system');
}

export function createSystemMailer(options: {
  smtpUrl: string | undefined;
  from: string;
  dataDir: string;
  log: Logger;
}): SystemMailer {
  const { from, log } = options;
  if (options.smtpUrl) {
    const smtp = nodemailer.createTransport(options.smtpUrl);
    return {
      async send(mail) {
        const info = await smtp.sendMail({ from, ...mail });
        log.info({ to: mail.to, subject: mail.subject, messageId: info.messageId }, 'system mail sent');
      },
    };
  }
  const outbox = systemOutboxDir(options.dataDir);
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  return {
    async send(mail) {
      const info = await composer.sendMail({ from, ...mail });
      await mkdir(outbox, { recursive: true, mode: 0o700 });
      // time first, so the files sort in the order they were written
      const file = path.join(outbox, `${Date.now()}-${randomUUID()}.eml`);
      // renamed into place, so whoever reads the outbox never sees half a message
      await writeFile(`${file}.part`, info.message as Buffer, { mode: 0o600 });
      await rename(`${file}.part`, file);
      log.info({ to: mail.to, subject: mail.subject, file }, 'system mail written to the outbox');
    },
  };
}
