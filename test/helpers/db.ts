// Direct database access for tests that check what the services wrote, or that the walls hold.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { type DatabaseService, serviceDatabaseUrl } from '../../lib/db/roles.ts';

/** Connected as the owner (superuser): use serviceClient() to test what a service's role can see. */
export function ownerClient(): pg.Client {
  return new pg.Client({ connectionString: inject('databaseUrl') });
}

/** Logged in as a service's own role, as that service is. */
export function serviceClient(service: DatabaseService): pg.Client {
  return new pg.Client({ connectionString: serviceDatabaseUrl(inject('databaseUrl'), service) });
}

export async function withClient<T>(client: pg.Client, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Runs `fn` while any insert into `table` of a row whose `column` holds the marker it is given fails (a
 * BEFORE INSERT trigger raising "simulated failure"), then removes the trigger.
 */
export async function withFailingInsert<T>(
  table: string,
  column: string,
  fn: (marker: string) => Promise<T>,
): Promise<T> {
  const marker = `boom_${randomUUID().replaceAll('-', '_')}`;
  await withClient(ownerClient(), (c) =>
    c.query(`CREATE FUNCTION pg_temp_${marker}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.${column} = '${marker}' THEN RAISE EXCEPTION 'simulated failure'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER ${marker} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION pg_temp_${marker}();`),
  );
  try {
    return await fn(marker);
  } finally {
    await withClient(ownerClient(), (c) =>
      c.query(`DROP TRIGGER ${marker} ON ${table}; DROP FUNCTION pg_temp_${marker}();`),
    );
  }
}

/** Rows of an organisation still waiting in the search queue (migration 0068). */
export async function queuedSearchTerms(organisationId: string): Promise<number> {
  return withClient(ownerClient(), async (c) => {
    const { rows } = await c.query(
      'SELECT count(*)::int AS n FROM crm.search_queue WHERE organisation_id = $1',
      [organisationId],
    );
    return rows[0].n;
  });
}
