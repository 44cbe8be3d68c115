// Authoring campaigns: their settings checked, their mailboxes the organisation's own, and the rules of
// their lifecycle. Every edit locks the campaign row first, so concurrent edits of one campaign (two steps
// added at once) take turns instead of colliding.

import { randomUUID } from 'node:crypto';
import { LockMode } from '@mikro-orm/postgresql';
import { type EntityManager, isUuid, rawQuery } from '../../../lib/db/orm.ts';
import { AppError, badInput, ErrorCode, notFound } from '../../../lib/errors.ts';
import { isTimeZone } from '../../../lib/validation/timezone.ts';
import { Campaign } from '../entities/campaign.entity.ts';
import { CampaignStatus, OnReject } from '../entities/enums.ts';
import { Mailbox } from '../entities/mailbox.entity.ts';
import type { CampaignInput, CampaignUpdateInput, ScheduleInput } from '../inputs/campaign.input.ts';

/** Mailboxes a campaign may send from: Campaign.mailboxes is bounded by it. */
export const MAX_CAMPAIGN_MAILBOXES = 50;
const MAX_DAILY_LIMIT = 100_000;

/** The campaign, locked for this transaction; NOT_FOUND for a malformed, unknown or other organisation's id. */
export async function lockCampaign(em: EntityManager, id: string): Promise<Campaign> {
  const campaign = isUuid(id)
    ? await em.findOne(Campaign, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true })
    : null;
  if (!campaign) throw notFound('Campaign');
  return campaign;
}

/** Archived campaigns are kept as a record: nothing of them changes any more. */
export function assertEditable(campaign: Campaign): void {
  if (campaign.status === CampaignStatus.ARCHIVED) {
    throw new AppError(ErrorCode.Conflict, `Campaign "${campaign.name}" is archived: it is read-only`, {
      status: campaign.status,
    });
  }
}

function checkName(raw: string): string {
  const name = raw.trim();
  if (name.length < 1 || name.length > 200)
    throw badInput('name must be 1-200 characters', { field: 'name' });
  return name;
}

function checkSchedule(schedule: ScheduleInput): void {
  if (!isTimeZone(schedule.timezone)) {
    throw badInput(`schedule.timezone "${schedule.timezone}" is not an IANA timezone (e.g. Europe/Paris)`, {
      field: 'schedule.timezone',
    });
  }
  const { days, startHour, endHour } = schedule;
  if (days.length === 0 || days.some((d) => !Number.isInteger(d) || d < 1 || d > 7)) {
    throw badInput('schedule.days must list days 1 (Monday) to 7 (Sunday), at least one', {
      field: 'schedule.days',
    });
  }
  if (new Set(days).size !== days.length) {
    throw badInput('schedule.days lists a day twice', { field: 'schedule.days' });
  }
  if (!Number.isInteger(startHour) || startHour < 0 || startHour > 23) {
    throw badInput('schedule.startHour must be 0-23', { field: 'schedule.startHour' });
  }
  if (!Number.isInteger(endHour) || endHour < 1 || endHour > 24 || endHour <= startHour) {
    throw badInput('schedule.endHour must be 1-24 and after startHour', { field: 'schedule.endHour' });
  }
}

function checkDailyLimit(value: number): void {
  if (!Number.isInteger(value) || value < 1 || value > MAX_DAILY_LIMIT) {
    throw badInput(`dailyLimit must be between 1 and ${MAX_DAILY_LIMIT}`, { field: 'dailyLimit' });
  }
}

/** The ids, each once, all of the organisation's mailboxes (else NOT_FOUND). */
async function checkMailboxes(em: EntityManager, ids: string[]): Promise<string[]> {
  const unique = [...new Set(ids.map((id) => id.toLowerCase()))];
  if (unique.length === 0 || unique.length > MAX_CAMPAIGN_MAILBOXES) {
    throw badInput(`mailboxIds must name 1-${MAX_CAMPAIGN_MAILBOXES} mailboxes`, { field: 'mailboxIds' });
  }
  if (!unique.every(isUuid)) throw notFound('Mailbox');
  const found = await em.find(Mailbox, { id: { $in: unique } }, { fields: ['id'] });
  if (found.length !== unique.length) throw notFound('Mailbox');
  return unique;
}

async function setMailboxes(em: EntityManager, campaign: Campaign, mailboxIds: string[]): Promise<void> {
  await rawQuery(
    em,
    'DELETE FROM outreach.campaign_mailboxes WHERE organisation_id = ? AND campaign_id = ?',
    [campaign.organisationId, campaign.id],
  );
  await rawQuery(
    em,
    `INSERT INTO outreach.campaign_mailboxes (organisation_id, campaign_id, mailbox_id)
     SELECT ?, ?, unnest(?::uuid[])`,
    [campaign.organisationId, campaign.id, mailboxIds],
  );
}

function applySchedule(campaign: Campaign, schedule: ScheduleInput): void {
  campaign.timezone = schedule.timezone;
  campaign.days = [...schedule.days].sort((a, b) => a - b);
  campaign.startHour = schedule.startHour;
  campaign.endHour = schedule.endHour;
}

export async function createCampaign(
  em: EntityManager,
  caller: { organisationId: string; userId: string | null },
  input: CampaignInput,
): Promise<Campaign> {
  const name = checkName(input.name);
  checkSchedule(input.schedule);
  if (input.dailyLimit != null) checkDailyLimit(input.dailyLimit);
  const mailboxIds = await checkMailboxes(em, input.mailboxIds);
  const campaign = Object.assign(new Campaign(), {
    id: randomUUID(),
    organisationId: caller.organisationId,
    name,
    dailyLimit: input.dailyLimit ?? null,
    trackOpens: input.trackOpens ?? true,
    trackClicks: input.trackClicks ?? true,
    requireApproval: input.requireApproval ?? false,
    useProspectTimezone: input.useProspectTimezone ?? false,
    onReject: input.onReject ?? OnReject.NEXT_STEP,
    createdBy: caller.userId,
  });
  applySchedule(campaign, input.schedule);
  em.persist(campaign);
  await em.flush();
  await setMailboxes(em, campaign, mailboxIds);
  return campaign;
}

/**
 * Settings apply from the next message on, whatever the campaign's state (a running campaign's window or
 * mailboxes can change; enrolments keep the mailbox they started with). Archived campaigns are read-only.
 */
export async function updateCampaign(
  em: EntityManager,
  id: string,
  input: CampaignUpdateInput,
): Promise<Campaign> {
  const campaign = await lockCampaign(em, id);
  assertEditable(campaign);
  if (input.name != null) campaign.name = checkName(input.name);
  if (input.schedule != null) {
    checkSchedule(input.schedule);
    applySchedule(campaign, input.schedule);
  }
  if (input.dailyLimit !== undefined) {
    if (input.dailyLimit !== null) checkDailyLimit(input.dailyLimit);
    campaign.dailyLimit = input.dailyLimit;
  }
  if (input.trackOpens != null) campaign.trackOpens = input.trackOpens;
  if (input.trackClicks != null) campaign.trackClicks = input.trackClicks;
  if (input.requireApproval != null) campaign.requireApproval = input.requireApproval;
  if (input.useProspectTimezone != null) campaign.useProspectTimezone = input.useProspectTimezone;
  if (input.onReject != null) campaign.onReject = input.onReject;
  if (input.mailboxIds != null) await setMailboxes(em, campaign, await checkMailboxes(em, input.mailboxIds));
  campaign.updatedAt = new Date();
  await em.flush();
  return campaign;
}

/**
 * From any state: an archived campaign schedules nothing more (its tasks not yet picked up are cancelled) and
 * stays readable. Archiving twice changes nothing.
 */
export async function archiveCampaign(em: EntityManager, id: string): Promise<Campaign> {
  const campaign = await lockCampaign(em, id);
  if (campaign.status === CampaignStatus.ARCHIVED) return campaign;
  campaign.status = CampaignStatus.ARCHIVED;
  campaign.archivedAt = new Date();
  campaign.updatedAt = campaign.archivedAt;
  await em.flush();
  await rawQuery(
    em,
    `UPDATE outreach.tasks t SET status = 'CANCELLED', updated_at = now()
     FROM outreach.campaign_enrollments e
     WHERE e.organisation_id = t.organisation_id AND e.id = t.enrollment_id
       AND t.organisation_id = ? AND e.campaign_id = ? AND t.status = 'PENDING'`,
    [campaign.organisationId, campaign.id],
  );
  return campaign;
}
