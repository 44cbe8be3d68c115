import { registerEnumType } from 'type-graphql';

export enum MailboxProvider {
  GMAIL = 'GMAIL',
  OUTBOX = 'OUTBOX',
}
export enum CampaignStatus {
  DRAFT = 'DRAFT',
  RUNNING = 'RUNNING',
  PAUSED = 'PAUSED',
  COMPLETED = 'COMPLETED',
  ARCHIVED = 'ARCHIVED',
}
export enum EnrollmentStatus {
  ACTIVE = 'ACTIVE',
  PAUSED = 'PAUSED',
  COMPLETED = 'COMPLETED',
  REPLIED = 'REPLIED',
  BOUNCED = 'BOUNCED',
  UNSUBSCRIBED = 'UNSUBSCRIBED',
  FAILED = 'FAILED',
  /** Taken out of the campaign by hand (unenroll). */
  STOPPED = 'STOPPED',
}
export enum MessageStatus {
  DRAFTING = 'DRAFTING',
  AWAITING_APPROVAL = 'AWAITING_APPROVAL',
  QUEUED = 'QUEUED',
  SENDING = 'SENDING',
  SENT = 'SENT',
  FAILED = 'FAILED',
  BOUNCED = 'BOUNCED',
  REJECTED = 'REJECTED',
  RECEIVED = 'RECEIVED',
}
registerEnumType(MailboxProvider, { name: 'MailboxProvider' });
registerEnumType(CampaignStatus, { name: 'CampaignStatus' });
registerEnumType(EnrollmentStatus, { name: 'EnrollmentStatus' });
registerEnumType(MessageStatus, { name: 'MessageStatus' });
