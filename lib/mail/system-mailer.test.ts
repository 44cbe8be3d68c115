// The system mailer: RFC 5322 files in the outbox by default, SMTP when a server is configured.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../telemetry/logger.ts';
import { createSystemMailer, systemOutboxDir } from './system-mailer.ts';

const log = createLogger('test', 'silent');
const FROM = 'ProspectFlow <no-reply@localhost>';
const mail = {
  to: 'léa@example.fr',
  subject: 'Réinitialisez votre mot de passe',
  text: `Lien : https://app.example.fr/password-reset?token=${'A'.repeat(43)}\n`,
};

/** Just enough of an SMTP server to receive one client's messages. */
async function fakeSmtpServer() {
  const received: { rcpt: string[]; data: string }[] = [];
  const server = net.createServer((socket) => {
    let buffer = '';
    let inData = false;
    let current = { rcpt: [] as string[], data: '' };
    socket.write('220 fake ESMTP\r\n');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            received.push(current);
            current = { rcpt: [], data: '' };
            socket.write('250 queued\r\n');
          } else current.data += `${line.startsWith('..') ? line.slice(1) : line}\r\n`;
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'RCPT') current.rcpt.push(line);
        if (verb === 'DATA') {
          inData = true;
          socket.write('354 go on\r\n');
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write(verb === 'EHLO' ? '250 fake\r\n' : '250 ok\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { received, port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

// quoted-printable, as the mail's text part is sent
const qp = (raw: string) =>
  raw
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('system mailer', () => {
  it('writes a complete message per mail to DATA_DIR/outbox/system when no SMTP server is set', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'prospectflow-mail-'));
    dirs.push(dataDir);
    const mailer = createSystemMailer({ smtpUrl: undefined, from: FROM, dataDir, log });
    await mailer.send(mail);
    await mailer.send({ ...mail, subject: 'second' });
    const files = await readdir(systemOutboxDir(dataDir));
    expect(files).toHaveLength(2);
    expect(files.every((f) => f.endsWith('.eml'))).toBe(true);
    const raw = await readFile(path.join(systemOutboxDir(dataDir), files.sort()[0]), 'utf8');
    expect(raw).toMatch(/^From: ProspectFlow <no-reply@localhost>\r$/m);
    expect(raw).toMatch(/^To: xn--la-9ia@example\.fr\r$|^To: léa@example\.fr\r$/m);
    expect(raw).toMatch(/^Subject: =\?UTF-8\?/m);
    expect(raw).toMatch(/^Message-ID: <.+>\r$/m);
    // CRLF line ends throughout, as RFC 5322 wants
    expect(raw.replace(/\r\n/g, '')).not.toContain('\n');
    expect(qp(raw)).toContain(`token=${'A'.repeat(43)}`);
  });

  it('sends through SMTP when SMTP_URL is set', async () => {
    const smtp = await fakeSmtpServer();
    try {
      const mailer = createSystemMailer({
        smtpUrl: `smtp://127.0.0.1:${smtp.port}`,
        from: FROM,
        dataDir: '/nonexistent',
        log,
      });
      await mailer.send({ ...mail, to: 'lea@example.fr' });
      expect(smtp.received).toHaveLength(1);
      expect(smtp.received[0].rcpt).toEqual(['RCPT TO:<lea@example.fr>']);
      expect(smtp.received[0].data).toMatch(/^To: lea@example\.fr\r$/m);
      expect(qp(smtp.received[0].data)).toContain(`token=${'A'.repeat(43)}`);
    } finally {
      smtp.close();
    }
  });
});
