// Tracking in the emails the sender sends: the pixel and wrapped links in the HTML when the campaign tracks
// opens and clicks, the plain text left readable, nothing added when it does not; and a wrapped link, clicked
// through the gateway, leads to the original URL and is stored as a click of that message.
import { randomUUID } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningGateway, startGateway } from '../gateway/gateway.ts';
import { gatewayRoutes } from '../gateway/routes.ts';
import { type RunningSubgraph, startSubgraph } from '../lib/graphql/subgraph.ts';
import { createLogger } from '../lib/telemetry/logger.ts';
import { SUBGRAPH_DEFINITIONS } from '../subgraphs/registry.ts';
import { startEvents } from '../workers/events/consumer.ts';
import type { RunningWorker } from '../workers/runtime.ts';
import {
  PUBLIC_URL,
  type SendingCampaign,
  type SendingStack,
  seedSendingCampaign,
  startSendingStack,
} from './helpers/sending.ts';

const OFFER = 'https://example.com/offre?a=1&b=2';
const BODY = `Bonjour {{firstName}},\n\nNotre offre : ${OFFER}\n\nÉcrivez-moi si besoin.`;
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36';

let stack: SendingStack;
let tracking: RunningSubgraph;
let gateway: RunningGateway;
let events: RunningWorker;

beforeAll(async () => {
  stack = await startSendingStack('trackingsend');
  const silent = createLogger('test', 'silent');
  // the links are signed with the sending stack's TRACKING_SECRET: a tracking service and a gateway with it
  tracking = await startSubgraph(SUBGRAPH_DEFINITIONS.tracking, stack.config, { port: 0, bus: stack.bus });
  gateway = await startGateway(
    { ...stack.config, subgraphUrls: { ...(inject('subgraphUrls') as any), tracking: tracking.url } },
    { port: 0, host: '127.0.0.1', routes: gatewayRoutes },
  );
  events = await startEvents({
    config: stack.config,
    orm: stack.orm,
    bus: stack.bus,
    log: silent,
    clock: () => new Date(),
  });
});
afterAll(async () => {
  await events?.stop();
  await gateway?.stop();
  await tracking?.stop();
  await stack?.stop();
});

async function sentEmail(campaign: SendingCampaign) {
  await stack.settle();
  const [sent] = stack.google.gmail.sent(campaign.mailboxEmail);
  expect(sent).toBeDefined();
  const { rows } = await stack.db.owner.query<{ id: string }>(
    `SELECT m.id FROM outreach.messages m JOIN outreach.campaign_enrollments e ON e.id = m.enrollment_id
     WHERE e.campaign_id = $1 AND m.status = 'SENT'`,
    [campaign.campaignId],
  );
  return { parsed: await simpleParser(sent!.raw), messageId: rows[0]!.id };
}

describe('tracked emails', () => {
  it('carry the pixel and wrapped links in HTML, readable links in text, and a click leads to the original', async () => {
    const campaign = await seedSendingCampaign(stack, {
      steps: [{ subject: 'Une idée', body: BODY }],
      people: [{ firstName: 'Paul' }],
    });
    const { parsed, messageId } = await sentEmail(campaign);
    const html = String(parsed.html);
    const pixels = [...html.matchAll(/<img src="([^"]+)" width="1" height="1"/g)].map((m) => m[1]!);
    expect(pixels).toHaveLength(1);
    expect(pixels[0]).toMatch(new RegExp(`^${PUBLIC_URL}/t/o/[A-Za-z0-9_-]+\\.gif$`));
    const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
    expect(hrefs).toHaveLength(1);
    expect(hrefs[0]).toMatch(new RegExp(`^${PUBLIC_URL}/t/c/[A-Za-z0-9_-]+$`));
    expect(html).not.toContain('href="https://example.com');
    // the link's text still shows where it goes; the text part is untouched
    expect(html).toContain('>https://example.com/offre?a=1&amp;b=2</a>');
    expect(parsed.text).toContain(OFFER);
    expect(parsed.text).not.toContain('/t/');

    const base = `http://127.0.0.1:${gateway.port}`;
    const click = await fetch(`${base}${new URL(hrefs[0]!).pathname}`, {
      redirect: 'manual',
      headers: { 'user-agent': CHROME },
    });
    expect(click.status).toBe(302);
    expect(click.headers.get('location')).toBe(OFFER);
    const open = await fetch(`${base}${new URL(pixels[0]!).pathname}`, { headers: { 'user-agent': CHROME } });
    expect(open.status).toBe(200);
    expect(open.headers.get('content-type')).toBe('image/gif');

    const started = Date.now();
    let rows: Array<{ kind: string; url: string | null; organisation_id: string }> = [];
    while (rows.length < 2 && Date.now() - started < 10_000) {
      ({ rows } = await stack.db.owner.query(
        'SELECT kind, url, organisation_id FROM tracking.events WHERE message_id = $1 ORDER BY kind',
        [messageId],
      ));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(rows).toEqual([
      { kind: 'CLICK', url: OFFER, organisation_id: campaign.organisationId },
      { kind: 'OPEN', url: null, organisation_id: campaign.organisationId },
    ]);
  });

  it('carry nothing of the kind when the campaign tracks neither opens nor clicks', async () => {
    const campaign = await seedSendingCampaign(stack, {
      steps: [{ subject: 'Une idée', body: BODY }],
      people: [{ firstName: 'Léa' }],
      organisationId: randomUUID(),
    });
    await stack.db.owner.query(
      'UPDATE outreach.campaigns SET track_opens = false, track_clicks = false WHERE id = $1',
      [campaign.campaignId],
    );
    const { parsed } = await sentEmail(campaign);
    const html = String(parsed.html);
    expect(html).not.toContain('/t/o/');
    expect(html).not.toContain('/t/c/');
    expect(html).toContain('href="https://example.com/offre?a=1&amp;b=2"');
  });
});
