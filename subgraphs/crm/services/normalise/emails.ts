// Email validation (wrapping the shared lib/validation/email.ts helper), free-mail detection and status mapping.
import { emailDomain, normaliseEmail } from '../../../../lib/validation/email.ts';
import { cleanText } from './text.ts';

export type EmailStatus = 'VALID' | 'RISKY' | 'INVALID' | 'UNKNOWN';

export interface EmailCheck {
  email: string | null;
  /** Why a non-empty value was refused; null when valid or empty. */
  error: string | null;
}

const WHITESPACE = /\s/;
const NON_ASCII = /[\u0080-\uffff]/;

/**
 * Lower-cased valid email, or the reason it is not one. Runs cleanText first because the shared helper only
 * trims: zero-width characters pasted from spreadsheets would otherwise fail it. Empty → { null, null }.
 */
export function checkEmail(value: unknown): EmailCheck {
  const text = cleanText(value);
  if (text === null) return { email: null, error: null };
  const email = normaliseEmail(text);
  if (email !== undefined) return { email, error: null };
  return { email: null, error: `email ${quote(text)} ${emailProblem(text.toLowerCase())}` };
}

/** Valid lower-cased email or null (empty and invalid alike). */
export function normaliseEmailValue(value: unknown): string | null {
  return checkEmail(value).email;
}

// Only called on failures, so it can afford a few scans; the shared helper's regex stays the source of truth.
function emailProblem(text: string): string {
  const at = text.indexOf('@');
  if (at === -1) return 'is missing the "@"';
  if (text.indexOf('@', at + 1) !== -1) return 'contains more than one "@"';
  if (WHITESPACE.test(text)) return 'contains whitespace';
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (local === '') return 'has nothing before the "@"';
  if (domain === '') return 'has nothing after the "@"';
  if (NON_ASCII.test(text)) return 'contains non-ASCII characters (accents are not allowed)';
  if (text.includes('..')) return 'contains consecutive dots';
  if (local.startsWith('.') || local.endsWith('.')) return 'starts or ends its local part with a dot';
  if (!domain.includes('.')) return 'has a domain without a dot';
  if (text.length > 254) return 'is longer than 254 characters';
  if (local.length > 64) return 'has a local part longer than 64 characters';
  return 'is not a valid email address';
}

function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}

const FREE_MAIL_DOMAINS = new Set([
  'gmail.com',
  'googlemail.com',
  'icloud.com',
  'me.com',
  'mac.com',
  'aol.com',
  'msn.com',
  'ymail.com',
  'orange.fr',
  'wanadoo.fr',
  'free.fr',
  'sfr.fr',
  'laposte.net',
  'proton.me',
  'pm.me',
  'mail.ru',
  'neuf.fr',
  'bbox.fr',
  'numericable.fr',
]);
// Providers with one domain per country ("yahoo.fr", "hotmail.co.uk"): matched on the first label.
const FREE_MAIL_FAMILIES = new Set(['yahoo', 'hotmail', 'outlook', 'live', 'gmx', 'protonmail', 'yandex']);
// What may follow a family name: a TLD, optionally behind co./com./net./org. ("yahoo.com.br").
const SUFFIX_LIKE = /^(?:(?:co|com|net|org)\.)?[a-z]{2,6}$/;

/** True for consumer mailbox domains, whose domain says nothing about the employer. Expects lower case. */
export function isFreeMailDomain(domain: string): boolean {
  if (FREE_MAIL_DOMAINS.has(domain)) return true;
  const dot = domain.indexOf('.');
  return dot > 0 && FREE_MAIL_FAMILIES.has(domain.slice(0, dot)) && SUFFIX_LIKE.test(domain.slice(dot + 1));
}

/** The company domain an email reveals: its domain, or null when invalid or a free-mail provider. */
export function domainFromEmail(value: unknown): string | null {
  const { email } = checkEmail(value);
  if (email === null) return null;
  const domain = emailDomain(email);
  return isFreeMailDomain(domain) ? null : domain;
}

const EMAIL_STATUSES = new Map<string, EmailStatus>([
  ['valid', 'VALID'],
  ['deliverable', 'VALID'],
  ['safe', 'VALID'],
  ['risky', 'RISKY'],
  ['catch_all', 'RISKY'],
  ['accept_all', 'RISKY'],
  ['unknown_catch_all', 'RISKY'],
  ['invalid', 'INVALID'],
  ['undeliverable', 'INVALID'],
  ['bounced', 'INVALID'],
]);
const STATUS_SEPARATORS = /[\s-]+/g;

/** Pharow/verifier status → VALID | RISKY | INVALID | UNKNOWN (anything unrecognised or empty). */
export function mapEmailStatus(value: unknown): EmailStatus {
  const text = cleanText(value);
  if (text === null) return 'UNKNOWN';
  const key = text.toLowerCase();
  return EMAIL_STATUSES.get(key) ?? EMAIL_STATUSES.get(key.replace(STATUS_SEPARATORS, '_')) ?? 'UNKNOWN';
}
