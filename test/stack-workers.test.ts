// `npm start` runs the workers beside the services: the platform's own relay publishes what a service records.
import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ENROLLMENT_CHANGED } from '../lib/bus/catalog.ts';
import { createOrm, withTenant } from '../lib/db/orm.ts';
import { serviceDatabaseUrl } from '../lib/db/roles.ts';
import { recordEvent } from '../lib/outbox/outbox.ts';
import { WORKER_ENTITIES, WORKER_TENANT_ENTITIES } from '../workers/runtime.ts';
import { newOrganisation } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';
import { eventually } from './helpers/wait.ts';

let outreachOrm: MikroORM;
beforeAll(async () => {
  outreachOrm = await createOrm({
    databaseUrl: serviceDatabaseUrl(inject('databaseUrl'), 'outreach'),
    schema: 'outreach',
    entities: WORKER_ENTITIES,
    tenantEntities: WORKER_TENANT_ENTITIES,
  });
});
afterAll(async () => {
  await outreachOrm?.close();
});

describe('workers in the all-in-one process', () => {
  it("relay an event the outreach service records, as the worker role, through the platform's bus", async () => {
    const org = await newOrganisation();
    const organisationId = org.organisation.id;
    const campaignId = randomUUID();
    await withClient(ownerClient(), (c) =>
      c.query(
        `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour)
         VALUES ($1, $2, 'Spring', 'Europe/Paris', '{1,2,3,4,5}', 9, 18)`,
        [organisationId, campaignId],
      ),
    );
    const { eventId } = await withTenant(outreachOrm, organisationId, (em) =>
      recordEvent(em, ENROLLMENT_CHANGED, { campaignId, payload: { enrollmentId: randomUUID() } }),
    );
    await eventually(
      () =>
        withClient(ownerClient(), async (c) => {
          const { rows } = await c.query(
            `SELECT o.sequence <= s.published_sequence AS published
             FROM outreach.outbox o JOIN outreach.outbox_streams s ON s.campaign_id = o.campaign_id
             WHERE o.id = $1`,
            [eventId],
          );
          return rows[0]?.published === true;
        }),
      10_000,
    );
    const { rows } = await withClient(ownerClient(), (c) =>
      c.query(
        `SELECT s.published_sequence, s.last_claimed_at IS NOT NULL AS claimed,
           (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND usename = 'prospectflow_worker') AS worker_connections
         FROM outreach.outbox_streams s WHERE s.campaign_id = $1`,
        [campaignId],
      ),
    );
    expect(rows).toEqual([
      { published_sequence: '1', claimed: true, worker_connections: expect.any(Number) },
    ]);
    expect(rows[0].worker_connections).toBeGreaterThan(0);
  });
});
