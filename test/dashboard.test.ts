// The dashboard page in headless Chromium (Debian's chromium, driven by playwright-core): signing in, picking a
// campaign, and its counters following a send live.
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  EnrollPositionsDocument,
  LaunchCampaignDocument,
  type SessionFragment,
} from './generated/graphql.ts';
import { authoredCampaign } from './helpers/authored-campaign.ts';
import { seedPositions } from './helpers/campaign-fixture.ts';
import { newOrganisation, ok } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let browser: Browser;
let org: SessionFragment & { password: string };
let origin: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium is needed at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  origin = inject('gatewayOrigin');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  org = await newOrganisation();
});

afterAll(async () => {
  await browser?.close();
});

/** A campaign of one OUTBOX mailbox, open every hour, and `count` prospects not enrolled yet. */
async function campaignWithProspects(name: string, count: number) {
  const { campaignId } = await authoredCampaign(org.accessToken, name);
  const positionIds = await withClient(ownerClient(), (c) => seedPositions(c, org.organisation.id, count));
  return { campaignId, positionIds };
}

async function signIn(page: Page): Promise<void> {
  await page.goto(`${origin}/dashboard`);
  await page.fill('input[name=email]', org.user.email);
  await page.fill('input[name=password]', org.password);
  await page.click('#sign-in button[type=submit]');
  await page.waitForSelector('#workspace:not([hidden])');
  // signed in, the form goes away
  expect(await page.isVisible('#sign-in')).toBe(false);
}

const sentOnScreen = (page: Page) => page.textContent('[data-stat=sent]').then((t) => Number(t));

describe('the dashboard', () => {
  it('is served with a policy that allows nothing but this origin', async () => {
    const response = await fetch(`${origin}/dashboard`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const script = await fetch(`${origin}/dashboard/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('javascript');
    expect((await script.text()).length).toBeGreaterThan(1000);
  });

  it('refuses a wrong password on screen, without signing in', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${origin}/dashboard`);
      await page.fill('input[name=email]', org.user.email);
      await page.fill('input[name=password]', 'not the password');
      await page.click('#sign-in button[type=submit]');
      await page.locator('#sign-in .error', { hasText: 'Invalid email or password' }).waitFor();
      expect(await page.isHidden('#workspace')).toBe(true);
    } finally {
      await page.close();
    }
  });

  it("shows a running campaign's counters changing on screen within a second of a send", async () => {
    const { campaignId, positionIds } = await campaignWithProspects('Live counters', 1);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    try {
      await signIn(page);
      expect(await page.textContent('#organisation')).toBe(org.organisation.name);
      await page.selectOption('#campaign', campaignId);
      await page.waitForSelector('#connection[data-state=live]');
      expect(await sentOnScreen(page)).toBe(0);

      const token = org.accessToken;
      await ok(EnrollPositionsDocument, { campaignId, positionIds }, { token });
      await ok(LaunchCampaignDocument, { id: campaignId }, { token });
      // the moment the email left (its row turned SENT), seen from the database
      const sentAt = await new Promise<number>((resolve, reject) => {
        const started = Date.now();
        const poll = async () => {
          const { rows } = await withClient(ownerClient(), (c) =>
            c.query(
              `SELECT count(*)::int AS n FROM outreach.messages m
               JOIN outreach.campaign_enrollments e ON e.organisation_id = m.organisation_id AND e.id = m.enrollment_id
               WHERE e.campaign_id = $1 AND m.status = 'SENT'`,
              [campaignId],
            ),
          );
          if (rows[0].n > 0) resolve(Date.now());
          else if (Date.now() - started > 30_000) reject(new Error('the email was not sent'));
          else setTimeout(poll, 20);
        };
        void poll();
      });
      await page.locator('[data-stat=sent]', { hasText: /^1$/ }).waitFor({ timeout: 10_000 });
      const latency = Date.now() - sentAt;
      console.log(`sent → on screen: ${latency} ms`);
      expect(latency).toBeLessThan(1000);
      // the activity feed names the send
      await page.locator('#feed li', { hasText: 'sent' }).first().waitFor();
      // the counters' change brings the timeline along (read again at most every 5 s)
      await page.locator('#timeline .legend', { hasText: 'sent 1' }).waitFor({ timeout: 10_000 });
      expect(errors).toEqual([]);
      // the README's picture of the page: DASHBOARD_SCREENSHOT=docs/dashboard.png npx vitest run test/dashboard.test.ts
      if (process.env.DASHBOARD_SCREENSHOT)
        await page.screenshot({ path: process.env.DASHBOARD_SCREENSHOT, fullPage: true });
    } finally {
      await page.close();
    }
  });
});
