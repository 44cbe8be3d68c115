// Every work queue and domain event, declared once. Senders and consumers import these descriptors.
import { assertHitBatch, type HitBatch } from '../tracking/hits.ts';
import {
  defineBatchQueue,
  defineEvent,
  defineQueue,
  type EventDescriptor,
  type QueueDescriptor,
  type RetryDelay,
} from './descriptors.ts';

/** A task to run: the worker re-reads it and moves it on with a conditional update. */
export interface TaskMessage {
  [key: string]: string;
  organisationId: string;
  taskId: string;
}

// ----- work queues (one per task kind of outreach.tasks) -----
export const DRAFT_QUEUE = defineQueue<TaskMessage>({
  name: 'outreach.draft',
  retryDelays: ['5s', '30s', '2m', '10m'],
});
export const SEND_QUEUE = defineQueue<TaskMessage>({
  name: 'outreach.send',
  retryDelays: ['30s', '2m', '10m', '1h'],
  prefetch: 5,
});

/**
 * A verified one-click unsubscribe (the tracking endpoint checked the token's signature): the recipient of the
 * message is suppressed and their enrolments stop. Published with a confirm before the endpoint answers.
 */
export const UNSUBSCRIBE_QUEUE = defineQueue<{
  organisationId: string;
  messageId: string;
  positionId: string;
}>({
  name: 'outreach.unsubscribe',
  retryDelays: ['5s', '30s', '2m', '10m', '1h'],
});

/**
 * Tracking hits, group-committed by the tracking endpoint: every batch goes to both queues, each confirmed
 * before the hits are answered. HITS feeds the raw event store (workers/events), ENGAGEMENT the counters.
 * Consumers dedupe by hit id: a redelivered batch counts once.
 */
export const HITS_QUEUE = defineBatchQueue<HitBatch>({
  name: 'tracking.hits',
  retryDelays: ['5s', '30s', '2m', '10m', '1h'],
  prefetch: 8,
  validate: assertHitBatch,
});
export const ENGAGEMENT_QUEUE = defineBatchQueue<HitBatch>({
  name: 'tracking.engagement',
  retryDelays: ['5s', '30s', '2m', '10m', '1h'],
  prefetch: 8,
  validate: assertHitBatch,
});

/** The durable subscription through which the engagement worker counts sends, replies, bounces and unsubscribes. */
export const OUTREACH_EVENTS_SUBSCRIPTION = Object.freeze({
  queue: 'tracking.outreach-events',
  retryDelays: ['5s', '30s', '2m', '10m', '1h'] as RetryDelay[],
  prefetch: 50,
});

/** The queue a claimed task of each kind goes to. */
export const TASK_QUEUES: Readonly<Record<'DRAFT' | 'SEND', QueueDescriptor<TaskMessage>>> = {
  DRAFT: DRAFT_QUEUE,
  SEND: SEND_QUEUE,
};

// ----- domain events (written to the outbox with the change, relayed per campaign in order) -----
export const DRAFTED = defineEvent<{ enrollmentId: string; messageId: string }>({ name: 'DRAFTED' });
export const APPROVAL_NEEDED = defineEvent<{ enrollmentId: string; messageId: string }>({
  name: 'APPROVAL_NEEDED',
});
/** A draft could not be written (a template variable missing, the model refused or stayed unreachable). */
export const FAILED = defineEvent<{ enrollmentId: string; messageId: string }>({ name: 'FAILED' });
export const ENROLLMENT_CHANGED = defineEvent<{ enrollmentId: string }>({ name: 'ENROLLMENT_CHANGED' });
/**
 * An email left through its mailbox (Gmail accepted it, or its .eml was written to the outbox folder) at
 * `sentAt`; `stepId` and `variantId` when it had them.
 */
export const SENT = defineEvent<{
  enrollmentId: string;
  messageId: string;
  sentAt: string;
  stepId?: string;
  variantId?: string;
}>({ name: 'SENT' });
/** The prospect answered: `messageId` is the RECEIVED message, `sentMessageId` the email it answers. */
export const REPLIED = defineEvent<{ enrollmentId: string; messageId: string; sentMessageId?: string }>({
  name: 'REPLIED',
});
/** A sent email bounced for good: `messageId` is the email that bounced. */
export const BOUNCED = defineEvent<{ enrollmentId: string; messageId: string }>({ name: 'BOUNCED' });
/** The recipient unsubscribed: `messageId` is the email whose link or header they used. */
export const UNSUBSCRIBED = defineEvent<{ enrollmentId: string; messageId: string }>({
  name: 'UNSUBSCRIBED',
});
/** Google refused the mailbox's credentials (revoked): its sends wait until it is connected again. */
export const MAILBOX_NEEDS_RECONNECT = defineEvent<{ mailboxId: string }>({
  name: 'MAILBOX_NEEDS_RECONNECT',
});

// ----- live figures (published by the engagement worker straight to the exchange, for the dashboards) -----
/**
 * A message was opened. `machine` says why an open is counted apart ('apple-privacy-proxy', 'scanner-ua',
 * 'head', 'too-soon': within 10 s of sending); absent for a human open.
 */
export const OPENED = defineEvent<{ enrollmentId: string; messageId: string; machine?: string }>({
  name: 'OPENED',
});
/** A link of a message was clicked; `machine` as for OPENED, or 'link-scan' (its links clicked within a second). */
export const CLICKED = defineEvent<{ enrollmentId: string; messageId: string; machine?: string }>({
  name: 'CLICKED',
});
/** The campaign's figures changed: once per campaign per batch the worker applied. */
export const STATS_CHANGED = defineEvent<{ campaignId: string }>({ name: 'STATS_CHANGED' });

export const QUEUES: readonly QueueDescriptor<any>[] = [
  DRAFT_QUEUE,
  SEND_QUEUE,
  UNSUBSCRIBE_QUEUE,
  HITS_QUEUE,
  ENGAGEMENT_QUEUE,
];
export const EVENTS: readonly EventDescriptor<any>[] = [
  DRAFTED,
  APPROVAL_NEEDED,
  FAILED,
  ENROLLMENT_CHANGED,
  SENT,
  REPLIED,
  BOUNCED,
  UNSUBSCRIBED,
  MAILBOX_NEEDS_RECONNECT,
  OPENED,
  CLICKED,
  STATS_CHANGED,
];
