import { registerEnumType } from 'type-graphql';

export enum MailboxProvider {
  GMAIL = 'GMAIL',
  OUTBOX = 'OUTBOX',
}
export enum MailboxStatus {
  ACTIVE = 'ACTIVE',
  /** Google refused the stored credentials: connect the mailbox again */
  NEEDS_RECONNECT = 'NEEDS_RECONNECT',
}
/** How a mailbox authenticates: OUTBOX needs nothing, Gmail an OAuth refresh token or domain-wide delegation. */
export enum MailboxAuthKind {
  NONE = 'NONE',
  OAUTH = 'OAUTH',
  DELEGATED = 'DELEGATED',
}
/** What a rejected draft does to its enrolment. */
export enum OnReject {
  NEXT_STEP = 'NEXT_STEP',
  STOP = 'STOP',
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
registerEnumType(MailboxStatus, { name: 'MailboxStatus' });
registerEnumType(OnReject, { name: 'OnReject' });
registerEnumType(CampaignStatus, { name: 'CampaignStatus' });
registerEnumType(EnrollmentStatus, { name: 'EnrollmentStatus' });
registerEnumType(MessageStatus, { name: 'MessageStatus' });
