// One-click unsubscribe (RFC 8058) on the public port: the link of a sent email, POSTed as a mail provider does,
// suppresses the recipient and stops every running enrolment of theirs in the organisation, once; the page a GET
// shows only asks; forged, altered and foreign tokens change nothing anywhere.
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createTokenSigner,
  loadTrackingKeys,
  type TokenSigner,
  trackingUrl,
} from '../lib/tracking/tokens.ts';
import { type CampaignSeed, seedDraftCampaign } from './helpers/drafts.ts';
import { eventually } from './helpers/wait.ts';

const ONE_CLICK = 'List-Unsubscribe=One-Click';

let db: pg.Pool;
let signer: TokenSigner;
let origin: string;

beforeAll(async () => {
  db = new pg.Pool({ connectionString: inject('databaseUrl'), max: 3 });
  // the key the running stack generated under its DATA_DIR (no TRACKING_SECRET in tests)
  signer = createTokenSigner(
    await loadTrackingKeys({ current: undefined, previous: undefined, dataDir: inject('dataDir') }),
  );
  origin = inject('gatewayOrigin');
});
afterAll(async () => {
  await db?.end();
});

interface Recipient {
  organisationId: string;
  email: string;
  /** The campaign the email was sent in, and its enrolment of the recipient. */
  seed: CampaignSeed;
  enrollmentId: string;
  positionId: string;
  messageId: string;
}

/** A SENT email to a prospect of a running campaign, written as the owner. */
async function sentEmail(organisationId: string = randomUUID()): Promise<Recipient> {
  const seed = await seedDraftCampaign(db, {
    organisationId,
    steps: [{ subject: 'Hello', body: 'Hi there' }],
    people: [{ firstName: 'Léa' }, { firstName: 'Paul' }],
  });
  const { id: enrollmentId, positionId } = seed.enrollments[0]!;
  const messageId = randomUUID();
  await db.query(
    `INSERT INTO outreach.messages (organisation_id, id, enrollment_id, step_id, mailbox_id, position_id,
       direction, status, subject, body_text, sent_at, step_index)
     VALUES ($1, $2, $3, $4, $5, $6, 'OUTBOUND', 'SENT', 'Hello', 'Hi there', now(), 0)`,
    [organisationId, messageId, enrollmentId, seed.steps[0]!.id, seed.mailboxId, positionId],
  );
  const { rows } = await db.query('SELECT email::text FROM outreach.campaign_enrollments WHERE id = $1', [
    enrollmentId,
  ]);
  return { organisationId, email: rows[0].email, seed, enrollmentId, positionId, messageId };
}

/** Another campaign of the organisation enrolling the same address (and someone else). */
async function alsoEnrolledElsewhere(organisationId: string, email: string): Promise<string> {
  const seed = await seedDraftCampaign(db, {
    organisationId,
    steps: [{ subject: 'Autumn', body: 'News' }],
    people: [{ firstName: 'Léa' }, { firstName: 'Marc' }],
  });
  await db.query('UPDATE outreach.campaign_enrollments SET email = $1 WHERE id = $2', [
    email,
    seed.enrollments[0]!.id,
  ]);
  return seed.enrollments[0]!.id;
}

function linkOf(r: Pick<Recipient, 'organisationId' | 'messageId' | 'positionId'>, with_ = signer): string {
  const token = { kind: 'unsubscribe' as const, ...r };
  return trackingUrl(origin, token, with_.sign(token));
}

function oneClick(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: ONE_CLICK,
    redirect: 'manual',
    ...init,
  });
}

async function statuses(enrollmentIds: string[]): Promise<Record<string, string>> {
  const { rows } = await db.query(
    'SELECT id, status FROM outreach.campaign_enrollments WHERE id = ANY ($1::uuid[])',
    [enrollmentIds],
  );
  return Object.fromEntries(rows.map((r) => [r.id, r.status]));
}

async function suppressions(organisationId: string) {
  const { rows } = await db.query(
    'SELECT value::text, kind, reason FROM crm.suppressions WHERE organisation_id = $1 ORDER BY value',
    [organisationId],
  );
  return rows;
}

async function events(organisationId: string, topic: string) {
  const { rows } = await db.query(
    'SELECT campaign_id, payload FROM outreach.outbox WHERE organisation_id = $1 AND topic = $2',
    [organisationId, topic],
  );
  return rows;
}

/** What a user of the organisation could see change: enrolments, suppressions, events, with their times. */
async function snapshot(organisationId: string) {
  const { rows: enrollments } = await db.query(
    `SELECT id, status, stopped_reason, updated_at FROM outreach.campaign_enrollments
     WHERE organisation_id = $1 ORDER BY id`,
    [organisationId],
  );
  const { rows: outbox } = await db.query(
    'SELECT id, topic FROM outreach.outbox WHERE organisation_id = $1 ORDER BY id',
    [organisationId],
  );
  return { enrollments, outbox, suppressions: await suppressions(organisationId) };
}

/**
 * Unsubscribes another recipient of the organisation through the public port and waits until it took effect:
 * the worker takes its queue in order, so what was handed on before has been taken up by then. (The worker
 * tests check a repeated or foreign unsubscribe on its own, with no queue in between.)
 */
async function unsubscribeSentinel(organisationId: string): Promise<void> {
  const sentinel = await sentEmail(organisationId);
  expect((await oneClick(linkOf(sentinel))).status).toBe(200);
  await eventually(
    async () => (await statuses([sentinel.enrollmentId]))[sentinel.enrollmentId] === 'UNSUBSCRIBED',
    15_000,
  );
}

describe('one-click unsubscribe through the public port', () => {
  it('a POST unsubscribes at once: 200, no redirect, no cookie; the address is suppressed and every running enrolment of it stops, once', async () => {
    const r = await sentEmail();
    const elsewhere = await alsoEnrolledElsewhere(r.organisationId, r.email);
    const other = await sentEmail(); // another organisation enrolling the same address
    await db.query('UPDATE outreach.campaign_enrollments SET email = $1 WHERE id = $2', [
      r.email,
      other.enrollmentId,
    ]);
    const url = linkOf(r);
    expect(url.startsWith(`${origin}/t/u/`)).toBe(true);

    const res = await oneClick(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toContain('You are unsubscribed');

    await eventually(
      async () =>
        (await suppressions(r.organisationId)).length === 1 &&
        (await events(r.organisationId, 'UNSUBSCRIBED')).length === 1,
      15_000,
    );
    expect(await suppressions(r.organisationId)).toEqual([
      { value: r.email, kind: 'EMAIL', reason: 'UNSUBSCRIBED' },
    ]);
    const stopped = await statuses([
      r.enrollmentId,
      elsewhere,
      r.seed.enrollments[1]!.id,
      other.enrollmentId,
    ]);
    expect(stopped).toEqual({
      [r.enrollmentId]: 'UNSUBSCRIBED',
      [elsewhere]: 'UNSUBSCRIBED',
      // the campaign's other prospect, and the same address in another organisation, go on
      [r.seed.enrollments[1]!.id]: 'ACTIVE',
      [other.enrollmentId]: 'ACTIVE',
    });
    expect(await events(r.organisationId, 'UNSUBSCRIBED')).toEqual([
      { campaign_id: r.seed.campaignId, payload: { enrollmentId: r.enrollmentId, messageId: r.messageId } },
    ]);
    expect(await suppressions(other.organisationId)).toEqual([]);

    // the same link again (providers retry; people click twice): the same answer, nothing more changes
    const before = await snapshot(r.organisationId);
    const again = await oneClick(url);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('You are unsubscribed');
    await unsubscribeSentinel(r.organisationId);
    const after = await snapshot(r.organisationId);
    expect(after.suppressions.filter((s) => s.value === r.email)).toEqual(before.suppressions);
    expect(after.enrollments.filter((e) => before.enrollments.some((b) => b.id === e.id))).toEqual(
      before.enrollments,
    );
    expect(await events(r.organisationId, 'UNSUBSCRIBED')).toHaveLength(2); // this one and the sentinel's
    expect(
      (await events(r.organisationId, 'UNSUBSCRIBED')).filter((e) => e.payload.messageId === r.messageId),
    ).toHaveLength(1);
  });

  it('accepts the one-click body whatever content type is declared, and in multipart form', async () => {
    const plain = await sentEmail();
    expect((await oneClick(linkOf(plain), { headers: { 'content-type': 'text/plain' } })).status).toBe(200);
    const multipart = await sentEmail();
    const form = new FormData();
    form.set('List-Unsubscribe', 'One-Click');
    expect((await fetch(linkOf(multipart), { method: 'POST', body: form })).status).toBe(200);
    await eventually(async () => {
      const s = await statuses([plain.enrollmentId, multipart.enrollmentId]);
      return s[plain.enrollmentId] === 'UNSUBSCRIBED' && s[multipart.enrollmentId] === 'UNSUBSCRIBED';
    }, 15_000);
  });

  it('GET shows a self-contained page whose button POSTs the one-click body to the same URL, and changes nothing', async () => {
    const r = await sentEmail();
    const url = linkOf(r);
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toMatch(
      /^default-src 'none'; style-src 'unsafe-inline'; form-action 'self'/,
    );
    const page = await res.text();
    const form = /<form method="post" action="([^"]+)">/.exec(page);
    expect(form).not.toBeNull();
    expect(new URL(form![1]!, url).href).toBe(url);
    expect(page).toContain('<input type="hidden" name="List-Unsubscribe" value="One-Click">');
    // nothing to fetch from anywhere
    expect(page).not.toMatch(/<(script|img|link|iframe)\b|src=|https?:\/\//i);

    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await head.text()).toBe('');

    const before = await snapshot(r.organisationId);
    await unsubscribeSentinel(r.organisationId);
    const after = await snapshot(r.organisationId);
    expect(after.enrollments.find((e) => e.id === r.enrollmentId)).toEqual(
      before.enrollments.find((e) => e.id === r.enrollmentId),
    );
    expect(after.suppressions.map((s) => s.value)).not.toContain(r.email);
  });

  it('forged, altered and foreign-key tokens get 404 "not valid" and change nothing', async () => {
    const r = await sentEmail();
    const token = new URL(linkOf(r)).pathname.slice('/t/u/'.length);
    const bytes = Buffer.from(token, 'base64url');
    const altered = Buffer.from(bytes);
    altered[20] = altered[20]! ^ 0x01; // one byte of the message id
    const macFlipped = Buffer.from(bytes);
    macFlipped[macFlipped.length - 1] = macFlipped[macFlipped.length - 1]! ^ 0x80;
    const otherKey = createTokenSigner([randomBytes(32).toString('base64url')]);
    const bad = [
      randomBytes(bytes.length).toString('base64url'),
      altered.toString('base64url'),
      macFlipped.toString('base64url'),
      new URL(linkOf(r, otherKey)).pathname.slice('/t/u/'.length),
      token.slice(0, -2),
      `${token}/x`,
      '',
    ];
    const before = await snapshot(r.organisationId);
    for (const t of bad) {
      const post = await oneClick(`${origin}/t/u/${t}`);
      expect(post.status, t).toBe(404);
      expect(await post.text()).toContain('This link is not valid');
      expect((await fetch(`${origin}/t/u/${t}`)).status, t).toBe(404);
    }
    await unsubscribeSentinel(r.organisationId);
    const after = await snapshot(r.organisationId);
    expect(after.enrollments.find((e) => e.id === r.enrollmentId)).toEqual(
      before.enrollments.find((e) => e.id === r.enrollmentId),
    );
    expect(after.suppressions.map((s) => s.value)).not.toContain(r.email);
  });

  it('a validly signed token naming another organisation’s message, or another recipient, changes nothing there', async () => {
    const a = await sentEmail();
    const b = await sentEmail();
    // organisation A's token carrying B's message and recipient: A has no such message
    expect((await oneClick(linkOf({ ...b, organisationId: a.organisationId }))).status).toBe(200);
    // B's own message, but a recipient it was not sent to (A's position)
    expect((await oneClick(linkOf({ ...b, positionId: a.positionId }))).status).toBe(200);
    // B's message with the recipient of another of B's emails
    const b2 = await sentEmail(b.organisationId);
    expect((await oneClick(linkOf({ ...b, positionId: b2.positionId }))).status).toBe(200);

    const beforeA = await snapshot(a.organisationId);
    const beforeB = await snapshot(b.organisationId);
    await unsubscribeSentinel(b.organisationId);
    await unsubscribeSentinel(a.organisationId);
    const afterB = await snapshot(b.organisationId);
    for (const id of [b.enrollmentId, b2.enrollmentId]) {
      expect(afterB.enrollments.find((e) => e.id === id)).toEqual(
        beforeB.enrollments.find((e) => e.id === id),
      );
    }
    expect(afterB.suppressions.map((s) => s.value)).not.toContain(b.email);
    expect(afterB.suppressions.map((s) => s.value)).not.toContain(b2.email);
    const afterA = await snapshot(a.organisationId);
    expect(afterA.enrollments.find((e) => e.id === a.enrollmentId)).toEqual(
      beforeA.enrollments.find((e) => e.id === a.enrollmentId),
    );
    expect(afterA.suppressions.map((s) => s.value)).not.toContain(a.email);
  });

  it('refuses what is not a one-click unsubscribe: other bodies 400, other methods 405, large bodies 413', async () => {
    const r = await sentEmail();
    const url = linkOf(r);
    expect((await oneClick(url, { body: 'List-Unsubscribe=Later' })).status).toBe(400);
    expect((await oneClick(url, { body: '' })).status).toBe(400);
    const put = await fetch(url, { method: 'PUT', body: ONE_CLICK });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    expect((await oneClick(url, { body: `${ONE_CLICK}&pad=${'x'.repeat(2000)}` })).status).toBe(413);
    const before = await snapshot(r.organisationId);
    await unsubscribeSentinel(r.organisationId);
    const after = await snapshot(r.organisationId);
    expect(after.enrollments.find((e) => e.id === r.enrollmentId)).toEqual(
      before.enrollments.find((e) => e.id === r.enrollmentId),
    );
  });
});
