// Direct database access for tests that check what the services wrote, or that the walls hold.
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
