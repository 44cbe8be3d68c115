// The bus contract shared by the RabbitMQ and in-process implementations; workers code against this only.

/** A work message carries ids only, e.g. `{ organisationId, taskId }`; the handler re-reads the rows. */
export interface WorkMessage {
  [key: string]: unknown;
}

export interface DeliveryInfo {
  /** 1 on the first delivery, incremented by each retry. */
  attempt: number;
  /** Logical queue name (without the prefix). */
  queue: string;
  messageId: string;
  /** True when the broker delivers the same copy again (a consumer died before acking). */
  redelivered: boolean;
}

export type WorkHandler<T> = (message: T, info: DeliveryInfo) => Promise<void>;

export interface ConsumeOptions {
  /** Handlers running (and messages unacked) at once for this consumer. Default 10. */
  prefetch?: number;
  /** Delay before each retry; after the last one the message goes to `<queue>.dead`. Default [1000, 10000, 60000]. */
  retryDelaysMs?: number[];
}

export interface Consumer {
  /** Stops new deliveries and resolves once the handlers in flight have settled. */
  close(): Promise<void>;
}

export interface DomainEvent {
  type: string;
  organisationId: string;
  /** ISO-8601 timestamp. */
  at: string;
  [key: string]: unknown;
}

export type EventHandler = (event: DomainEvent, routingKey: string) => Promise<void> | void;

/**
 * A named, durable subscription: its queue outlives the subscriber (events published while nobody listens
 * wait there), subscribers of one name share its events, and a handler that throws is retried like a work
 * message, then dead-lettered to `<queue>.dead`.
 */
export interface DurableSubscriptionOptions extends ConsumeOptions {
  /** Logical queue name, e.g. 'tracking.outreach-events'. */
  queue: string;
}

export interface Bus {
  readonly kind: 'rabbitmq' | 'memory';
  /** Durable work queue; resolves only when the broker has confirmed the message (publisher confirms). */
  send(
    queue: string,
    message: WorkMessage,
    options?: { delayMs?: number; messageId?: string },
  ): Promise<void>;
  /** Confirms many in flight at once, not one by one. */
  sendMany(queue: string, messages: WorkMessage[]): Promise<void>;
  /**
   * One message to each of several work queues (same body, same message id), in one publish: resolves once the
   * broker has confirmed it, that is once every queue holds its copy.
   */
  sendToQueues(
    queues: readonly string[],
    message: WorkMessage,
    options?: { messageId?: string },
  ): Promise<void>;
  consume<T = WorkMessage>(
    queue: string,
    handler: WorkHandler<T>,
    options?: ConsumeOptions,
  ): Promise<Consumer>;
  /** Topic exchange for small domain events (ids); routing key e.g. 'campaign.<id>.activity'. */
  /** `messageId` (default: a new UUID) lets a consumer recognise a republished event. */
  publishEvent(routingKey: string, event: DomainEvent, options?: { messageId?: string }): Promise<void>;
  /**
   * Without options each subscriber gets its own copy (exclusive auto-delete queue: nothing is kept while it is
   * away, a failing handler is logged and skipped). With `{ queue }` the subscription is durable (see
   * DurableSubscriptionOptions). Patterns use AMQP topic syntax (* and #).
   */
  subscribeEvents(
    patterns: string[],
    handler: EventHandler,
    options?: DurableSubscriptionOptions,
  ): Promise<Consumer>;
  /** Messages that exhausted their retries or were rejected as permanent (for tests, ops tooling). */
  deadLetters(queue: string, limit?: number): Promise<WorkMessage[]>;
  /** Purge a queue and its retry/dead queues (tests, ops). */
  purge(queue: string): Promise<void>;
  close(): Promise<void>;
}

/** Structural, so a pino logger fits. */
export interface BusLogger {
  info?(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Thrown by a handler: the message goes straight to the dead-letter queue, no retry. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/** Misuse of the bus or a message the broker would not take (closed bus, bad argument, unroutable). */
export class BusError extends Error {
  override name = 'BusError';
}
