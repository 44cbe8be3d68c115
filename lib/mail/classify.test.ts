// Classifying inbound mail from its raw bytes: realistic bounces, out-of-office replies and replies.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyInbound } from './classify.ts';

const fixture = (name: string) => readFile(path.join(import.meta.dirname, 'fixtures', name));
const OURS = '<0f9c2a1e-6b1d-4c3e-9f2a-1d2e3f4a5b6c@sender.fr>';

const mail = (headers: string, body = 'Hello') =>
  `From: Lea Martin <lea.martin@client.fr>\r\nTo: claire@sender.fr\r\nMessage-ID: <x1@client.fr>\r\n${headers}\r\n\r\n${body}\r\n`;

describe('classifying inbound mail', () => {
  it('a Gmail delivery-status report (5.1.1) is a bounce of the attached original', async () => {
    const c = await classifyInbound(await fixture('gmail-dsn-5.1.1.eml'));
    expect(c).toMatchObject({
      kind: 'bounce',
      from: 'mailer-daemon@googlemail.com',
      status: '5.1.1',
      failedRecipients: ['lea.martin@client.fr'],
      bouncedMessageId: OURS,
    });
  });

  it('a 4.2.2 report (mailbox full) is a soft bounce, its original found in text/rfc822-headers', async () => {
    const c = await classifyInbound(await fixture('soft-bounce-4.2.2.eml'));
    expect(c).toMatchObject({
      kind: 'soft-bounce',
      status: '4.2.2',
      action: 'failed',
      failedRecipients: ['paul.durand@client.fr'],
      bouncedMessageId: '<a7d1c2b3-0000-4000-8000-softbounce01@sender.fr>',
    });
  });

  it('an Exchange out-of-office in French is an automatic reply to our email', async () => {
    const c = await classifyInbound(await fixture('exchange-ooo-fr.eml'));
    expect(c.kind).toBe('auto-reply');
    expect(c.subject).toBe('Réponse automatique\u00a0: Vos fournils, Léa');
    expect(c.inReplyTo).toBe(OURS);
  });

  it('a reply quoting our email is a reply, with its sender, text and references', async () => {
    const c = await classifyInbound(await fixture('reply-quoted.eml'));
    expect(c).toMatchObject({
      kind: 'reply',
      from: 'lea.martin@client.fr',
      subject: 'Re: Vos fournils, Lea',
      messageId: '<CAF3kq=2rT8bVx0uZ1pQ9sX_reply01@mail.gmail.com>',
      inReplyTo: OURS,
      references: [OURS],
      bouncedMessageId: undefined,
    });
    expect(c.text).toContain('pouvons-nous en parler jeudi à 14 h ?');
  });

  it.each([
    ['Auto-Submitted: auto-replied\r\nSubject: Re: Vos fournils', 'auto-reply'],
    ['Auto-Submitted: no\r\nSubject: Re: Vos fournils', 'reply'],
    ['X-Autoreply: yes\r\nSubject: Re: hello', 'auto-reply'],
    ['X-Autorespond: 1\r\nSubject: Re: hello', 'auto-reply'],
    ['Precedence: auto_reply\r\nSubject: Re: hello', 'auto-reply'],
    ['Precedence: bulk\r\nSubject: Out of Office: back Monday', 'auto-reply'],
    ['Precedence: bulk\r\nSubject: Re: hello', 'reply'],
    ['Subject: Automatic reply: Vos fournils', 'auto-reply'],
    ['Subject: Out of office', 'auto-reply'],
    ['Subject: Absent du bureau', 'auto-reply'],
    ['Subject: Absence du 1er au 15', 'auto-reply'],
    ['Subject: =?UTF-8?Q?R=C3=A9ponse_automatique_:_bonjour?=', 'auto-reply'],
    ['Subject: Re: an office for your team', 'reply'],
    ['Subject: unsubscribe', 'unsubscribe-request'],
    ['Subject: Unsubscribe ', 'unsubscribe-request'],
    ['Subject: Re: please unsubscribe me', 'reply'],
  ])('%s → %s', async (headers, kind) => {
    expect((await classifyInbound(mail(headers))).kind).toBe(kind);
  });

  it('X-Failed-Recipients without a report is a bounce; the status in the text says hard or soft', async () => {
    const hard = await classifyInbound(
      mail(
        'Subject: Undeliverable: Vos fournils\r\nX-Failed-Recipients: Paul@Client.fr',
        '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found',
      ),
    );
    expect(hard).toMatchObject({ kind: 'bounce', failedRecipients: ['paul@client.fr'], status: '5.1.10' });
    const soft = await classifyInbound(
      mail('Subject: Undeliverable\r\nX-Failed-Recipients: paul@client.fr', '452 4.2.2 mailbox full'),
    );
    expect(soft.kind).toBe('soft-bounce');
  });

  it('a mail system notice without report nor header is a bounce; a delayed report is a soft one, still on its way', async () => {
    const notice = await classifyInbound(
      `From: MAILER-DAEMON@mx.client.fr\r\nTo: claire@sender.fr\r\nSubject: failure notice\r\n\r\nSorry, we were unable to deliver your message.\r\n`,
    );
    expect(notice.kind).toBe('bounce');
    const delayed = await classifyInbound(
      [
        'From: postmaster@mx.client.fr',
        'To: claire@sender.fr',
        'Subject: Delivery Status Notification (Delay)',
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
        '',
        '--b',
        'Content-Type: text/plain',
        '',
        'Still trying.',
        '--b',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.client.fr',
        '',
        'Final-Recipient: rfc822; paul@client.fr',
        'Action: delayed',
        'Status: 4.4.7',
        '--b--',
        '',
      ].join('\r\n'),
    );
    expect(delayed).toMatchObject({ kind: 'soft-bounce', action: 'delayed', status: '4.4.7' });
  });
});
