// Raw items an organisation already has skip normalising and matching: the answer and the stored rows must be
// exactly what the full pipeline gives, and what one organisation sent never counts for another.
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { generatePharowBatch, type RawItem } from '../bench/fixtures/pharow-generator.ts';
import { CreateApiKeyDocument } from './generated/graphql.ts';
import { newOrganisation, ok } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';
import { pharowItem } from './helpers/pharow.ts';

async function webhookOrganisation() {
  const org = await newOrganisation();
  const { createApiKey } = await ok(
    CreateApiKeyDocument,
    { name: 'pharow', scopes: ['INGEST'] },
    { token: org.accessToken },
  );
  const send = async (data: unknown[]) => {
    const res = await fetch(`${inject('gatewayOrigin')}/webhooks/pharow`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': createApiKey.secret },
      body: JSON.stringify({ version: 'V2', data }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  };
  return { organisationId: org.organisation.id, send };
}

/** Everything an organisation's prospects say, without generated ids or timestamps, in a stable order. */
async function storedProspects(organisationId: string): Promise<unknown[]> {
  return withClient(ownerClient(), async (c) => {
    const { rows } = await c.query(
      `SELECT to_jsonb(c) - '{id,organisation_id,created_at,updated_at,source_hash}'::text[] AS company,
              to_jsonb(p) - '{id,organisation_id,created_at,updated_at,source_hash}'::text[] AS person,
              to_jsonb(pos) - '{id,organisation_id,company_id,person_id,created_at,updated_at,source_hash,item_hash,item_rows}'::text[] AS position
       FROM crm.positions pos
       JOIN crm.companies c ON c.organisation_id = pos.organisation_id AND c.id = pos.company_id
       JOIN crm.people p ON p.organisation_id = pos.organisation_id AND p.id = pos.person_id
       WHERE pos.organisation_id = $1`,
      [organisationId],
    );
    return rows.map((r) => JSON.stringify(r)).sort();
  });
}

async function rememberedShare(organisationId: string): Promise<number> {
  return withClient(ownerClient(), async (c) => {
    const { rows } = await c.query(
      `SELECT avg((pos.item_rows = md5(c.source_hash || p.source_hash || pos.source_hash))::int)::float AS share
       FROM crm.positions pos
       JOIN crm.companies c ON c.organisation_id = pos.organisation_id AND c.id = pos.company_id
       JOIN crm.people p ON p.organisation_id = pos.organisation_id AND p.id = pos.person_id
       WHERE pos.organisation_id = $1`,
      [organisationId],
    );
    return rows[0].share ?? 0;
  });
}

/** How many of an organisation's positions carry a unit's label (migration 0050) with an intact stamp. */
async function unitLabelled(organisationId: string): Promise<number> {
  return withClient(ownerClient(), async (c) => {
    const { rows } = await c.query(
      `SELECT count(*)::int AS n
       FROM crm.positions pos
       JOIN crm.companies c ON c.organisation_id = pos.organisation_id AND c.id = pos.company_id
       JOIN crm.people p ON p.organisation_id = pos.organisation_id AND p.id = pos.person_id
       WHERE pos.organisation_id = $1 AND pos.item_hash LIKE 'u:%'
         AND pos.item_rows = md5(c.source_hash || p.source_hash || pos.source_hash)`,
      [organisationId],
    );
    return rows[0].n;
  });
}

/** The same item with an ignored field that differs every time: never recognised, always fully processed. */
const neverKnown = (item: RawItem) => ({ ...item, exportTrace: randomUUID() });

/** A re-export where some prospects changed: new job titles, a company field, phones, emails' case. */
function edited(items: RawItem[]): RawItem[] {
  return items.map((item, i) => {
    if (i % 7 === 1) return { ...item, position: { ...item.position, positionJobTitle: `Directeur ${i}` } };
    if (i % 11 === 2) return { ...item, company: { ...item.company, companyGrowing: i % 2 === 0 } };
    if (i % 13 === 3) return { ...item, person: { ...item.person, personMobilePhone: null } };
    if (i % 17 === 4 && typeof item.position.positionEmail === 'string')
      return {
        ...item,
        position: { ...item.position, positionEmail: item.position.positionEmail.toUpperCase() },
      };
    return item;
  });
}

describe('ingest of raw items already stored', () => {
  it('answers and stores exactly what the full pipeline does, through repeats, edits and new items', async () => {
    const first = generatePharowBatch(400, 7_101).data;
    const later = generatePharowBatch(60, 7_102).data;
    const batches = [
      first,
      first,
      edited(first),
      [...edited(first).slice(0, 200), ...later],
      first,
      [...later, ...first.slice(100, 300)],
      // the same items in another order merge differently: never recognised as the units stored
      [...first].reverse(),
      [...first].reverse(),
    ];
    const remembering = await webhookOrganisation();
    const reference = await webhookOrganisation();
    for (const [n, batch] of batches.entries()) {
      const answer = await remembering.send(batch);
      const expected = await reference.send(batch.map(neverKnown));
      expect(answer, `batch ${n}`).toEqual(expected);
    }
    expect(await storedProspects(remembering.organisationId)).toEqual(
      await storedProspects(reference.organisationId),
    );
    // the repeats above were recognised, not only answered alike: the positions remember their raw items,
    // near-duplicates and the items at their companies as units
    expect(await rememberedShare(remembering.organisationId)).toBeGreaterThan(0.95);
    expect(await unitLabelled(remembering.organisationId)).toBeGreaterThan(0);
  });

  it('recognises near-duplicates as a unit only when they come again in the same order', async () => {
    const remembering = await webhookOrganisation();
    const reference = await webhookOrganisation();
    const both = async (batch: ReturnType<typeof pharowItem>[]) => {
      const answer = await remembering.send(batch);
      expect(answer).toEqual(await reference.send(batch.map(neverKnown)));
      return answer;
    };
    const a = pharowItem();
    // the same prospect re-exported with another job title: one position no single item describes
    const b = { ...a, position: { ...a.position, positionJobTitle: 'Directrice financière' } };
    const c = pharowItem({ company: a.company });
    await both([a, b, c]);
    // both positions at that company stand for the unit
    expect(await unitLabelled(remembering.organisationId)).toBe(2);
    expect(await both([a, b, c])).toMatchObject({
      companies: { created: 0, updated: 0, unchanged: 1 },
      positions: { created: 0, updated: 0, unchanged: 2 },
    });
    // swapped, the other title wins: not the unit stored, so the full pipeline runs and updates it
    expect(await both([b, a, c])).toMatchObject({ positions: { created: 0, updated: 1, unchanged: 1 } });
    expect(await unitLabelled(remembering.organisationId)).toBe(2);
    // one of the unit's items alone is not the unit either: its own title comes back
    expect(await both([b])).toMatchObject({ positions: { created: 0, updated: 1, unchanged: 0 } });
    expect(await both([c, b, a])).toMatchObject({ positions: { created: 0, updated: 1, unchanged: 1 } });
    expect(await both([c, b, a])).toMatchObject({ positions: { created: 0, updated: 0, unchanged: 2 } });
    expect(await storedProspects(remembering.organisationId)).toEqual(
      await storedProspects(reference.organisationId),
    );
  });

  it('refuses an item refused before the same way, wherever it stands in the batch, without reading it', async () => {
    const remembering = await webhookOrganisation();
    const reference = await webhookOrganisation();
    const both = async (batch: unknown[]) => {
      const answer = await remembering.send(batch);
      expect(answer).toEqual(await reference.send(batch.map((item) => neverKnown(item as RawItem))));
      return answer as { rejected: { index: number; field: string }[] };
    };
    const good = pharowItem();
    const badEmail = pharowItem({ position: { positionEmail: 'jean.dupont@@acme.fr' } });
    const noName = pharowItem({ company: { companyName: '   ' }, person: { personFirstName: '' } });
    const first = await both([badEmail, good, noName]);
    expect(first.rejected.map((r) => r.index)).toEqual([0, 2]);
    const remembered = () =>
      withClient(ownerClient(), async (c) => {
        const { rows } = await c.query(
          'SELECT rejections FROM crm.ingest_rejected WHERE organisation_id = $1 ORDER BY item_hash',
          [remembering.organisationId],
        );
        return rows.map((r) => r.rejections);
      });
    expect(await remembered()).toHaveLength(2);
    // moved, repeated within the batch: the same rejections at their new places
    const again = await both([good, noName, badEmail, badEmail]);
    expect(again.rejected.map((r) => r.index)).toEqual([1, 2, 3]);
    expect(await remembered()).toHaveLength(2);
    // what is answered comes from what was remembered: the item is not read again
    await withClient(ownerClient(), (c) =>
      c.query(
        `UPDATE crm.ingest_rejected SET rejections = '[{"field": "position.positionEmail", "message": "remembered"}]'
         WHERE organisation_id = $1`,
        [remembering.organisationId],
      ),
    );
    const read = (await remembering.send([badEmail])) as { rejected: { message: string }[] };
    expect(read.rejected.map((r) => r.message)).toEqual(['remembered']);
  });

  it('skips an unchanged item but updates a changed one next to it', async () => {
    const { organisationId, send } = await webhookOrganisation();
    const kept = pharowItem();
    const changing = pharowItem({ company: kept.company });
    await send([kept, changing]);
    const answer = await send([
      kept,
      { ...changing, position: { ...changing.position, positionJobTitle: 'Directrice des achats' } },
    ]);
    expect(answer).toMatchObject({
      received: 2,
      companies: { created: 0, updated: 0, unchanged: 1 },
      people: { created: 0, updated: 0, unchanged: 2 },
      positions: { created: 0, updated: 1, unchanged: 1 },
      rejected: [],
    });
    const titles = await withClient(ownerClient(), async (c) => {
      const { rows } = await c.query(
        'SELECT job_title FROM crm.positions WHERE organisation_id = $1 ORDER BY job_title',
        [organisationId],
      );
      return rows.map((r) => r.job_title);
    });
    expect(titles).toEqual([kept.position.positionJobTitle, 'Directrice des achats'].sort());
  });

  it('stores the same raw item in two organisations, each recognising only its own', async () => {
    const item = pharowItem();
    const a = await webhookOrganisation();
    const b = await webhookOrganisation();
    const created = {
      received: 1,
      companies: { created: 1, updated: 0, unchanged: 0 },
      people: { created: 1, updated: 0, unchanged: 0 },
      positions: { created: 1, updated: 0, unchanged: 0 },
      rejected: [],
    };
    expect(await a.send([item])).toEqual(created);
    expect(await b.send([item])).toEqual(created);
    expect(await b.send([item])).toMatchObject({ positions: { created: 0, updated: 0, unchanged: 1 } });
    expect(await storedProspects(b.organisationId)).toEqual(await storedProspects(a.organisationId));
  });
});
