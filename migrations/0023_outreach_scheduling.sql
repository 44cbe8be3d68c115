-- Scheduling: an enrolment stopped by hand, and the look-ups the scheduler and enrolment checks make on every
-- round (a mailbox's sends of the day, the organisation's sends of a day, addresses that bounced before).

-- STOPPED: taken out of its campaign (unenrolled), with the reason in stopped_reason
ALTER TABLE outreach.campaign_enrollments DROP CONSTRAINT campaign_enrollments_status_check;
ALTER TABLE outreach.campaign_enrollments ADD CONSTRAINT campaign_enrollments_status_check
  CHECK (status IN ('ACTIVE', 'PAUSED', 'COMPLETED', 'REPLIED', 'BOUNCED', 'UNSUBSCRIBED', 'FAILED', 'STOPPED'));

-- a mailbox's daily limit and spacing: its dispatched tasks by send slot
CREATE INDEX tasks_mailbox_send ON outreach.tasks (organisation_id, mailbox_id, send_at) WHERE send_at IS NOT NULL;
-- a campaign's daily limit: the organisation's dispatched tasks of one day
CREATE INDEX tasks_send_day ON outreach.tasks (organisation_id, send_at) WHERE send_at IS NOT NULL;
-- an address that bounced is not enrolled again
CREATE INDEX campaign_enrollments_bounced ON outreach.campaign_enrollments (organisation_id, email)
  WHERE status = 'BOUNCED';
CREATE INDEX messages_bounced ON outreach.messages (organisation_id, enrollment_id) WHERE status = 'BOUNCED';
-- an address already in this campaign, whatever its enrolment's status
CREATE INDEX campaign_enrollments_campaign_email ON outreach.campaign_enrollments (organisation_id, campaign_id, email);
