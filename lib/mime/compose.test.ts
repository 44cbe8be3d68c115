import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { composeEmail, type OutgoingEmail, UnsafeHeader } from './compose.ts';

const base: OutgoingEmail = {
  from: { address: 'claire@sender.fr', name: 'Claire Dübois' },
  to: 'paul@client.fr',
  subject: 'Café à Lyon — une idée ☕',
  text: 'Bonjour Paul,\n\nUne idée pour vos fournées.\n\nClaire',
  html: '<p>Bonjour Paul,</p><p>Une idée pour vos fournées.</p><p>Claire</p>',
  messageId: '<8d7c3f2e-1111-4c1e-9d55-2f6f0c1a0b01@sender.fr>',
  date: new Date('2026-03-02T09:00:00Z'),
  unsubscribeUrl: 'https://app.example.com/t/u/AXVzdWJzY3JpYmU',
};

describe('composeEmail', () => {
  it('round-trips through mailparser: sender name, UTF-8 subject, text and HTML, Message-ID', async () => {
    const raw = await composeEmail(base);
    expect(raw.toString('latin1')).not.toMatch(/[^\r]\n/);
    const parsed = await simpleParser(raw);
    expect(parsed.from?.value).toEqual([{ address: 'claire@sender.fr', name: 'Claire Dübois' }]);
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value[0]?.address : undefined).toBe(
      'paul@client.fr',
    );
    expect(parsed.subject).toBe(base.subject);
    expect(parsed.text?.trim()).toBe(base.text);
    expect(parsed.html).toContain('<p>Une idée pour vos fournées.</p>');
    expect(parsed.messageId).toBe(base.messageId);
    expect(parsed.date?.toISOString()).toBe('2026-03-02T09:00:00.000Z');
    expect(parsed.inReplyTo).toBeUndefined();
  });

  it('carries one-click unsubscribe: both URIs in List-Unsubscribe and List-Unsubscribe-Post', async () => {
    const raw = await composeEmail(base);
    const head = raw
      .toString('utf8')
      .split('\r\n\r\n')[0]!
      .replace(/\r\n[ \t]+/g, ' ');
    expect(head).toMatch(
      /^List-Unsubscribe: <https:\/\/app\.example\.com\/t\/u\/AXVzdWJzY3JpYmU>, <mailto:claire@sender\.fr\?subject=unsubscribe>$/m,
    );
    expect(head).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);
    const parsed = await simpleParser(raw);
    expect(JSON.stringify(parsed.headers.get('list'))).toContain(
      'https://app.example.com/t/u/AXVzdWJzY3JpYmU',
    );
  });

  it('names the thread on a follow-up: In-Reply-To the previous email, References every earlier one', async () => {
    const first = '<a1@sender.fr>';
    const second = '<a2@sender.fr>';
    const parsed = await simpleParser(
      await composeEmail({
        ...base,
        subject: 'Re: Café à Lyon',
        inReplyTo: second,
        references: [first, second],
      }),
    );
    expect(parsed.inReplyTo).toBe(second);
    expect(parsed.references).toEqual([first, second]);
    expect(parsed.subject).toBe('Re: Café à Lyon');
  });

  it('refuses a line break where it would start a header of its own', async () => {
    await expect(composeEmail({ ...base, subject: 'Hello\r\nBcc: everyone@example.com' })).rejects.toThrow(
      UnsafeHeader,
    );
    await expect(
      composeEmail({ ...base, from: { ...base.from, name: 'Claire\nX-Evil: 1' } }),
    ).rejects.toThrow(UnsafeHeader);
    await expect(composeEmail({ ...base, to: 'paul@client.fr\r\nBcc: x@y.z' })).rejects.toThrow(UnsafeHeader);
    await expect(composeEmail({ ...base, messageId: '<a@b>\r\nX: y' })).rejects.toThrow(UnsafeHeader);
    await expect(
      composeEmail({ ...base, unsubscribeUrl: 'https://x.example/>, <https://evil' }),
    ).rejects.toThrow(UnsafeHeader);
  });
});
