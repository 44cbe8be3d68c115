// Direct database access for tests that check what the services wrote, or that the walls hold.
import pg from 'pg';
import { inject } from 'vitest';

/** Connected as the owner (superuser): use asApp() to test what the application role can see. */
export function ownerClient(): pg.Client {
  return new pg.Client({ connectionString: inject('databaseUrl') });
}

/** Connected as the application role, as the services are. */
export function appClient(): pg.Client {
  return new pg.Client({ connectionString: inject('databaseUrl'), options: '-c role=prospectflow_app' });
}

export async function withClient<T>(client: pg.Client, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
