// Each service logs in as its own database role; DATABASE_URL is the owner's, used only for migrations.
import pg from 'pg';
import type { SubgraphName } from '../config.ts';

// `worker`: the background workers (relay, scheduler, drafter…), one role for all of them.
export type DatabaseService = SubgraphName | 'gateway' | 'worker';
export const DATABASE_SERVICES: readonly DatabaseService[] = [
  'iam',
  'crm',
  'outreach',
  'tracking',
  'gateway',
  'worker',
];

export function serviceRole(service: DatabaseService): string {
  return `prospectflow_${service}`;
}

/** The owner's URL with the service's role and password (none: trust, certificate or ~/.pgpass). */
export function serviceDatabaseUrl(ownerUrl: string, service: DatabaseService, password?: string): string {
  const url = new URL(ownerUrl);
  url.username = serviceRole(service);
  url.password = password ?? '';
  url.searchParams.set('application_name', `prospectflow-${service}`);
  return url.toString();
}

/** Sets the given roles' passwords, as the owner. */
export async function setServicePasswords(
  ownerUrl: string,
  passwords: Partial<Record<DatabaseService, string>>,
): Promise<void> {
  const entries = Object.entries(passwords).filter(([, p]) => p) as [DatabaseService, string][];
  if (entries.length === 0) return;
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    for (const [service, password] of entries) {
      // ALTER ROLE takes no bind parameters: quote the literal with the server's own rules
      await client.query(
        `ALTER ROLE ${client.escapeIdentifier(serviceRole(service))} PASSWORD ${client.escapeLiteral(password)}`,
      );
    }
  } finally {
    await client.end();
  }
}
