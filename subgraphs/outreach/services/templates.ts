// Email templates: `{{variable}}` and `{{variable|fallback}}` over a prospect's position, person and company
// and the sending mailbox. Checked when a step is saved, rendered when a message is drafted or previewed.
import { badInput } from '../../../lib/errors.ts';

export interface ProspectData {
  position: Record<string, unknown>;
  person: Record<string, unknown>;
  company: Record<string, unknown>;
}
export interface SenderData {
  email: string;
  displayName: string | null;
  firstName: string | null;
  lastName: string | null;
}
export type Rendered = { ok: true; text: string } | { ok: false; missing: string };

// The columns crm.prospects_for_outreach returns, camelCased: what `{{position.x}}`, `{{person.x}}` and
// `{{company.x}}` may name. Keys (ids) and bookkeeping columns say nothing to a prospect and are left out.
const FIELDS = {
  position: ['jobTitle', 'email', 'emailStatus', 'emailReliability', 'pharowListName'],
  person: ['firstName', 'lastName', 'salutation', 'linkedinUrl', 'mobilePhone', 'location'],
  company: [
    'name',
    'brandName',
    'linkedinName',
    'linkedinUrl',
    'websiteUrl',
    'domain',
    'mainPhone',
    'genericEmail',
    'nafSector',
    'nafCode',
    'activity',
    'foundingYear',
    'foundingDate',
    'growing',
    'employeeCount',
    'employeeRange',
    'employeeMin',
    'employeeMax',
    'hqAddress',
    'annualRevenueEur',
    'annualRevenueYear',
    'siren',
    'hqSiret',
  ],
  sender: ['firstName', 'lastName', 'displayName', 'email'],
} as const;
type Source = keyof typeof FIELDS;

// Short names for the variables every sequence uses.
const ALIASES: Record<string, [Source, string]> = {
  firstName: ['person', 'firstName'],
  lastName: ['person', 'lastName'],
  jobTitle: ['position', 'jobTitle'],
};

/** Every variable a template may use, for error messages and editors. */
export const TEMPLATE_VARIABLES: readonly string[] = [
  ...Object.keys(ALIASES),
  ...Object.entries(FIELDS).flatMap(([source, fields]) => fields.map((f) => `${source}.${f}`)),
];
const KNOWN = new Set(TEMPLATE_VARIABLES);

type Part = string | { name: string; fallback: string | undefined };

const NAME = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)?$/;

/** The template as literal text and variables, or a description of its first syntax error. */
function parse(text: string): Part[] | { error: string } {
  const parts: Part[] = [];
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf('{{', at);
    if (open < 0) {
      parts.push(text.slice(at));
      break;
    }
    if (open > at) parts.push(text.slice(at, open));
    const close = text.indexOf('}}', open + 2);
    if (close < 0) return { error: `"{{" at character ${open + 1} is never closed with "}}"` };
    const inner = text.slice(open + 2, close);
    if (inner.includes('{{')) return { error: `"{{" at character ${open + 1} is never closed with "}}"` };
    const bar = inner.indexOf('|');
    const name = (bar < 0 ? inner : inner.slice(0, bar)).trim();
    if (!NAME.test(name)) {
      return { error: `"{{${inner}}}" at character ${open + 1} does not name a variable` };
    }
    parts.push({ name, fallback: bar < 0 ? undefined : inner.slice(bar + 1).trim() });
    at = close + 2;
  }
  return parts;
}

export function checkTemplate(text: string, field: string): void {
  const parts = parse(text);
  if ('error' in parts) {
    throw badInput(`${field}: ${parts.error}`, { field });
  }
  for (const part of parts) {
    if (typeof part !== 'string' && !KNOWN.has(part.name)) {
      throw badInput(
        `${field}: unknown variable {{${part.name}}}; use one of firstName, lastName, jobTitle, company.name, company.domain, sender.firstName, or a field of position, person, company or sender`,
        { field, variable: part.name },
      );
    }
  }
}

/** A value as it reads in an email; nothing (null, blank) is undefined. */
function display(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

function lookup(name: string, prospect: ProspectData, sender: SenderData): unknown {
  const [source, field] = ALIASES[name] ?? (name.split('.') as [Source, string]);
  if (source === 'sender') return sender[field as keyof SenderData];
  return prospect[source]?.[field];
}

export function renderTemplate(text: string, prospect: ProspectData, sender: SenderData): Rendered {
  const parts = parse(text);
  // templates are checked when saved; one that no longer parses still renders nothing wrong
  if ('error' in parts) throw badInput(parts.error);
  let out = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const value = KNOWN.has(part.name) ? display(lookup(part.name, prospect, sender)) : undefined;
    if (value !== undefined) out += value;
    else if (part.fallback !== undefined) out += part.fallback;
    else return { ok: false, missing: part.name };
  }
  return { ok: true, text: out };
}

/** The sender variables of a mailbox: its display name split at the first space. */
export function senderOf(email: string, displayName: string | null | undefined): SenderData {
  const name = display(displayName) ?? null;
  const space = name?.indexOf(' ') ?? -1;
  return {
    email,
    displayName: name,
    firstName: name === null ? null : space < 0 ? name : name.slice(0, space),
    lastName: name === null || space < 0 ? null : name.slice(space + 1).trim(),
  };
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

// A URL runs to the next space or angle bracket; closing punctuation after it belongs to the sentence.
const URL = /https?:\/\/[^\s<>"]+/g;
const TRAILING = /[.,;:!?)\]'}]+$/;

function linkify(line: string): string {
  let out = '';
  let at = 0;
  for (const match of line.matchAll(URL)) {
    const url = match[0].replace(TRAILING, '');
    out += escapeHtml(line.slice(at, match.index));
    out += `<a href="${escapeHtml(url)}">${escapeHtml(url)}</a>`;
    at = match.index + url.length;
  }
  return out + escapeHtml(line.slice(at));
}

export function bodyToHtml(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((p) => p.replace(/^\n+|\n+$/g, ''))
    .filter((p) => p.trim() !== '')
    .map((p) => `<p>${p.split('\n').map(linkify).join('<br>\n')}</p>`)
    .join('\n');
}
