import { describe, expect, it } from 'vitest';
import { AppError } from '../../../lib/errors.ts';
import { bodyToHtml, checkTemplate, type ProspectData, renderTemplate, senderOf } from './templates.ts';

const prospect: ProspectData = {
  position: { jobTitle: 'Head of Sales', email: 'jeanne@acme.fr' },
  person: { firstName: 'Jeanne', lastName: 'Martin', linkedinUrl: 'https://linkedin.com/in/jm' },
  company: { name: 'Acme', domain: 'acme.fr', employeeRange: '50-99', foundingYear: 1998, growing: true },
};
const sender = senderOf('paul@seller.io', 'Paul Durand');

function refusal(text: string): AppError {
  try {
    checkTemplate(text, 'bodyTemplate');
  } catch (error) {
    return error as AppError;
  }
  throw new Error(`checkTemplate accepted ${text}`);
}

describe('checkTemplate', () => {
  it('accepts the documented variables, fallbacks and spaces inside braces', () => {
    expect(() =>
      checkTemplate(
        'Hi {{ firstName | there }}, {{lastName}} {{jobTitle}} at {{company.name}} ({{company.domain}}, ' +
          '{{company.employeeRange}}) {{person.linkedinUrl}} {{position.jobTitle}} — {{sender.firstName}} ' +
          '{{sender.lastName}} {{sender.displayName}} {{sender.email}}',
        'bodyTemplate',
      ),
    ).not.toThrow();
  });

  it('names the field and the first unknown variable', () => {
    const error = refusal('Hi {{firstName}}, {{company.ceo}} and {{nope}}');
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.message).toContain('bodyTemplate');
    expect(error.message).toContain('{{company.ceo}}');
    expect(error.details).toEqual({ field: 'bodyTemplate', variable: 'company.ceo' });
  });

  it('refuses an unclosed or empty variable', () => {
    expect(refusal('Hi {{firstName').message).toMatch(/bodyTemplate: .*never closed/);
    expect(refusal('Hi {{firstName {{lastName}}').message).toMatch(/never closed/);
    expect(refusal('Hi {{ }}').message).toMatch(/does not name a variable/);
    expect(refusal('Hi {{first name}}').message).toMatch(/does not name a variable/);
  });

  it('refuses variables of internal columns', () => {
    expect(refusal('{{company.sourceHash}}').details).toMatchObject({ variable: 'company.sourceHash' });
    expect(refusal('{{sender.password}}').details).toMatchObject({ variable: 'sender.password' });
  });
});

describe('renderTemplate', () => {
  it('fills prospect, company and sender values', () => {
    expect(
      renderTemplate(
        'Hi {{ firstName }}, {{jobTitle}} at {{company.name}} ({{company.employeeRange}}, since ' +
          '{{company.foundingYear}}). {{sender.firstName}} {{sender.lastName}} <{{sender.email}}>',
        prospect,
        sender,
      ),
    ).toEqual({
      ok: true,
      text: 'Hi Jeanne, Head of Sales at Acme (50-99, since 1998). Paul Durand <paul@seller.io>',
    });
  });

  it('uses the fallback when a value is missing or blank, and reports a variable with neither', () => {
    const blank: ProspectData = { ...prospect, person: { firstName: '  ', lastName: null } };
    expect(renderTemplate('Hi {{firstName|there}},', blank, sender)).toEqual({ ok: true, text: 'Hi there,' });
    expect(renderTemplate('Hi {{firstName}},', blank, sender)).toEqual({ ok: false, missing: 'firstName' });
    expect(renderTemplate('{{ lastName | }}Hello', blank, sender)).toEqual({ ok: true, text: 'Hello' });
    expect(renderTemplate('Best, {{sender.firstName}}', prospect, senderOf('a@b.io', null))).toEqual({
      ok: false,
      missing: 'sender.firstName',
    });
  });

  it('leaves text without variables as it is', () => {
    expect(renderTemplate('Price: {100} }} done', prospect, sender)).toEqual({
      ok: true,
      text: 'Price: {100} }} done',
    });
  });
});

describe('senderOf', () => {
  it('splits the display name at its first space', () => {
    expect(senderOf('a@b.io', ' Anne Marie Dupont ')).toEqual({
      email: 'a@b.io',
      displayName: 'Anne Marie Dupont',
      firstName: 'Anne',
      lastName: 'Marie Dupont',
    });
    expect(senderOf('a@b.io', 'Cher')).toMatchObject({ firstName: 'Cher', lastName: null });
  });
});

describe('bodyToHtml', () => {
  it('escapes, makes paragraphs and line breaks, and links URLs without their closing punctuation', () => {
    expect(bodyToHtml('Hi <Jeanne> & co,\r\n\r\n\r\nSee https://acme.fr/a?b=1&c=2.\nThanks "all"\n')).toBe(
      '<p>Hi &lt;Jeanne&gt; &amp; co,</p>\n' +
        '<p>See <a href="https://acme.fr/a?b=1&amp;c=2">https://acme.fr/a?b=1&amp;c=2</a>.<br>\nThanks &quot;all&quot;</p>',
    );
  });

  it('never lets a URL break out of its attribute', () => {
    const html = bodyToHtml('http://x.io/"onmouseover="alert(1) and javascript:alert(1)');
    expect(html).not.toContain('"onmouseover');
    expect(html).not.toContain('href="javascript');
  });
});
