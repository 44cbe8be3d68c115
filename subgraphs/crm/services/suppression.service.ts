// Suppression checks: by exact email and by the email's domain, case-insensitively (citext).
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';
import { emailDomain } from '../../../lib/validation/email.ts';

/** For each email, whether it (or its domain) is suppressed; one query for the whole list. */
export async function suppressedEmails(em: EntityManager, emails: readonly string[]): Promise<Set<string>> {
  const lower = [...new Set(emails.map((e) => e.toLowerCase()))];
  if (lower.length === 0) return new Set();
  const domains = [...new Set(lower.map(emailDomain))];
  const rows = await rawQuery<{ value: string }>(
    em,
    `SELECT lower(value::text) AS value FROM crm.suppressions
     WHERE organisation_id = current_organisation_id() AND value = ANY(?::citext[])`,
    [[...lower, ...domains]],
  );
  const hit = new Set(rows.map((r) => r.value));
  return new Set(lower.filter((e) => hit.has(e) || hit.has(emailDomain(e))));
}
