// Every work queue and domain event, declared once. Senders and consumers import these descriptors.
import { defineEvent, defineQueue, type EventDescriptor, type QueueDescriptor } from './descriptors.ts';

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

export const QUEUES: readonly QueueDescriptor<any>[] = [DRAFT_QUEUE, SEND_QUEUE];
export const EVENTS: readonly EventDescriptor<any>[] = [DRAFTED, APPROVAL_NEEDED, FAILED, ENROLLMENT_CHANGED];
