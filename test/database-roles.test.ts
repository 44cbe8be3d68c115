// Defence in depth: each service logs in as its own role, with rights on its own schema only.
import { describe, expect, it } from 'vitest';
import type { DatabaseService } from '../lib/db/roles.ts';
import { CampaignsDocument, PositionsDocument } from './generated/graphql.ts';
import { newOrganisation, ok } from './helpers/client.ts';
import { ownerClient, serviceClient, withClient } from './helpers/db.ts';

// schemas where each role holds table rights (the workers read a few crm tables besides their own)
const TABLE_SCHEMAS: Record<DatabaseService, string[]> = {
  iam: ['iam'],
  crm: ['crm'],
  outreach: ['outreach'],
  tracking: ['tracking'],
  gateway: [],
  worker: ['crm', 'outreach', 'tracking'],
};

describe('service database roles', () => {
  it("crm's role cannot read iam.users, and no RESET ROLE or SET ROLE gives it more rights", async () => {
    await withClient(serviceClient('crm'), async (c) => {
      await expect(c.query('SELECT email, password_hash FROM iam.users')).rejects.toThrow(
        /permission denied/,
      );
      await c.query('RESET ROLE');
      await expect(c.query('SELECT count(*) FROM iam.users')).rejects.toThrow(/permission denied/);
      for (const target of ['postgres', 'prospectflow_iam', 'prospectflow_app']) {
        await expect(c.query(`SET ROLE ${target}`)).rejects.toThrow(/permission denied/);
      }
      await expect(c.query('SET SESSION AUTHORIZATION postgres')).rejects.toThrow(/permission denied/);
      const who = await c.query('SELECT current_user, session_user');
      expect(who.rows[0]).toEqual({ current_user: 'prospectflow_crm', session_user: 'prospectflow_crm' });
      // nor can it change a table's walls: it owns none
      await expect(c.query('ALTER TABLE crm.positions DISABLE ROW LEVEL SECURITY')).rejects.toThrow(
        /must be owner/,
      );
      await expect(c.query('CREATE TABLE crm.extra (id int)')).rejects.toThrow(/permission denied/);
    });
  });

  it('only iam reads iam.users; the gateway reaches API keys only through the look-up function', async () => {
    await withClient(serviceClient('iam'), async (c) => {
      await c.query('SELECT count(*) FROM iam.users');
    });
    for (const service of ['outreach', 'tracking', 'gateway'] as const) {
      await withClient(serviceClient(service), async (c) => {
        await expect(c.query('SELECT count(*) FROM iam.users')).rejects.toThrow(/permission denied/);
      });
    }
    await withClient(serviceClient('gateway'), async (c) => {
      const none = await c.query('SELECT * FROM iam.api_key_by_id($1)', [
        '00000000-0000-4000-8000-000000000000',
      ]);
      expect(none.rows).toEqual([]);
      await expect(c.query('SELECT count(*) FROM iam.api_keys')).rejects.toThrow(/permission denied/);
      await expect(c.query('SELECT count(*) FROM crm.positions')).rejects.toThrow(/permission denied/);
    });
  });

  it('each role holds table rights in its own schema only, owns nothing and bypasses nothing', async () => {
    await withClient(ownerClient(), async (c) => {
      for (const [service, schemas] of Object.entries(TABLE_SCHEMAS)) {
        const role = `prospectflow_${service}`;
        const grants = await c.query(
          'SELECT DISTINCT table_schema FROM information_schema.role_table_grants WHERE grantee = $1 ORDER BY 1',
          [role],
        );
        expect(grants.rows.map((r) => r.table_schema)).toEqual(schemas);
        const attributes = await c.query(
          `SELECT rolcanlogin, rolsuper OR rolbypassrls OR rolcreatedb OR rolcreaterole AS powerful,
             (SELECT count(*)::int FROM pg_auth_members m WHERE m.member = r.oid) AS memberships,
             (SELECT count(*)::int FROM pg_class t WHERE t.relowner = r.oid) AS owned
           FROM pg_roles r WHERE rolname = $1`,
          [role],
        );
        expect(attributes.rows[0]).toEqual({ rolcanlogin: true, powerful: false, memberships: 0, owned: 0 });
      }
    });
  });

  it("each service's sessions run without JIT compilation (migration 0069)", async () => {
    for (const service of Object.keys(TABLE_SCHEMAS) as DatabaseService[]) {
      await withClient(serviceClient(service), async (c) => {
        const { rows } = await c.query('SHOW jit');
        expect({ service, jit: rows[0].jit }).toEqual({ service, jit: 'off' });
      });
    }
  });

  it('the running services log in as their own roles, never as the owner', async () => {
    const org = await newOrganisation();
    await ok(PositionsDocument, { first: 1 }, { token: org.accessToken });
    await ok(CampaignsDocument, {}, { token: org.accessToken });
    await withClient(ownerClient(), async (c) => {
      const { rows } = await c.query(
        `SELECT DISTINCT usename, application_name FROM pg_stat_activity
         WHERE datname = current_database() AND application_name LIKE 'prospectflow-%'`,
      );
      for (const row of rows) expect(row.usename).toBe(`prospectflow_${row.application_name.slice(13)}`);
      expect(rows.map((r) => r.usename)).toEqual(
        expect.arrayContaining(['prospectflow_iam', 'prospectflow_crm', 'prospectflow_outreach']),
      );
    });
  });
});
