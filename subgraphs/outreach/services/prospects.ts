// What outreach knows of a prospect: its address, whether it is suppressed, and its position, person and
// company rows for templates and prompts. Read through crm.prospects_for_outreach, the only CRM door outreach has.
import { type EntityManager, isUuid, rawQuery } from '../../../lib/db/orm.ts';
import { badInput } from '../../../lib/errors.ts';
import type { ProspectData } from './templates.ts';

export interface Prospect {
  positionId: string;
  email: string | null;
  emailStatus: string;
  /** The suppression's reason (UNSUBSCRIBED, BOUNCED, COMPLAINED, MANUAL) when the address or its domain is suppressed. */
  suppressed: string | null;
  data: ProspectData;
}

/** Positions one call may ask for (the function refuses more). */
export const MAX_PROSPECTS = 10_000;

interface Row {
  position_id: string;
  email: string | null;
  email_status: string;
  suppressed: string | null;
  position_row: Record<string, unknown>;
  person_row: Record<string, unknown>;
  company_row: Record<string, unknown>;
}

const camel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** A row's columns under their camelCase names, as templates and prompts name them. */
function camelKeys(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [camel(key), value]));
}

/** Inside a tenant transaction (request or worker); at most 10,000 ids; missing/other organisation's ids are absent. */
export async function loadProspects(
  em: EntityManager,
  positionIds: string[],
): Promise<Map<string, Prospect>> {
  if (positionIds.length > MAX_PROSPECTS) {
    throw badInput(`At most ${MAX_PROSPECTS} positions at a time (got ${positionIds.length})`);
  }
  // an id that is not a UUID names no position: absent, like another organisation's
  const ids = [...new Set(positionIds.filter(isUuid).map((id) => id.toLowerCase()))];
  const prospects = new Map<string, Prospect>();
  if (ids.length === 0) return prospects;
  const rows = await rawQuery<Row>(em, 'SELECT * FROM crm.prospects_for_outreach(?::uuid[])', [ids]);
  for (const row of rows) {
    prospects.set(row.position_id, {
      positionId: row.position_id,
      email: row.email,
      emailStatus: row.email_status,
      suppressed: row.suppressed,
      data: {
        position: camelKeys(row.position_row),
        person: camelKeys(row.person_row),
        company: camelKeys(row.company_row),
      },
    });
  }
  return prospects;
}
