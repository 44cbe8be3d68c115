// In-process bus for the embedded single-process mode: the RabbitMQ contract (prefetch, retries with the
// same delays, dead letters, topic patterns) without a broker. Nothing survives a restart.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  assertCopies,
  assertDelay,
  assertEvent,
  assertPatterns,
  assertQueueName,
  assertWorkMessage,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  errorText,
  failureOutcome,
  idsOf,
  resolveConsumeOptions,
  settlesWithin,
} from './delivery-policy.ts';
import { matchesTopic } from './topic-pattern.ts';
import {
  type Bus,
  BusError,
  type BusLogger,
  type ConsumeOptions,
  type Consumer,
  type DeliveryInfo,
  type DomainEvent,
  type DurableSubscriptionOptions,
  type EventHandler,
  type WorkHandler,
  type WorkMessage,
} from './types.ts';

export interface MemoryBusOptions {
  logger: BusLogger;
  /** How long close() waits for running handlers. */
  shutdownTimeoutMs?: number;
}

// Stored as JSON so every delivery gets a fresh copy, exactly what a broker round-trip gives.
interface Envelope {
  payload: string;
  messageId: string;
  attempt: number;
  /** Set on events held in a durable subscription's queue. */
  routingKey?: string;
}

type LocalHandler = (
  message: WorkMessage,
  info: DeliveryInfo,
  routingKey: string | undefined,
) => Promise<void>;

interface LocalQueue {
  name: string;
  ready: Envelope[];
  dead: Envelope[];
  timers: Set<NodeJS.Timeout>;
  consumers: LocalConsumer[];
  cursor: number;
  pumpScheduled: boolean;
}

interface Subscription {
  patterns: string[];
  handler: EventHandler;
  closed: boolean;
  inFlight: Set<Promise<void>>;
}

export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private readonly logger: BusLogger;
  private readonly shutdownTimeoutMs: number;
  private readonly queues = new Map<string, LocalQueue>();
  private readonly subscriptions = new Set<Subscription>();
  // Durable subscriptions' queues and their patterns: kept after their subscribers close, like bound queues.
  private readonly bindings = new Map<string, string[]>();
  private closing: Promise<void> | undefined;

  constructor(options: MemoryBusOptions) {
    this.logger = options.logger;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  }

  async send(
    queue: string,
    message: WorkMessage,
    options?: { delayMs?: number; messageId?: string },
  ): Promise<void> {
    this.assertOpen();
    assertQueueName(queue);
    assertWorkMessage(message);
    const delayMs = options?.delayMs ?? 0;
    assertDelay(delayMs);
    const envelope = {
      payload: JSON.stringify(message),
      messageId: options?.messageId ?? randomUUID(),
      attempt: 1,
    };
    const q = this.queue(queue);
    if (delayMs > 0) this.enqueueAfter(q, delayMs, envelope);
    else this.enqueue(q, envelope);
  }

  async sendMany(queue: string, messages: WorkMessage[]): Promise<void> {
    this.assertOpen();
    assertQueueName(queue);
    for (const message of messages) assertWorkMessage(message);
    // Serialise all first: a bad message enqueues none, as near as we get to a failed batch.
    const envelopes = messages.map((m) => ({
      payload: JSON.stringify(m),
      messageId: randomUUID(),
      attempt: 1,
    }));
    const q = this.queue(queue);
    for (const envelope of envelopes) this.enqueue(q, envelope);
  }

  async sendToQueues(
    queues: readonly string[],
    message: WorkMessage,
    options?: { messageId?: string },
  ): Promise<void> {
    this.assertOpen();
    assertCopies(queues, message);
    const payload = JSON.stringify(message);
    const messageId = options?.messageId ?? randomUUID();
    for (const queue of queues) this.enqueue(this.queue(queue), { payload, messageId, attempt: 1 });
  }

  async consume<T = WorkMessage>(
    queue: string,
    handler: WorkHandler<T>,
    options?: ConsumeOptions,
  ): Promise<Consumer> {
    this.assertOpen();
    assertQueueName(queue);
    const { prefetch, retryDelaysMs } = resolveConsumeOptions(options);
    const q = this.queue(queue);
    return this.addConsumer(q, prefetch, retryDelaysMs, (message, info) =>
      (handler as WorkHandler<WorkMessage>)(message, info),
    );
  }

  async publishEvent(
    routingKey: string,
    event: DomainEvent,
    options?: { messageId?: string },
  ): Promise<void> {
    this.assertOpen();
    assertEvent(routingKey, event);
    const payload = JSON.stringify(event);
    for (const sub of this.subscriptions) {
      if (sub.patterns.some((pattern) => matchesTopic(pattern, routingKey)))
        this.deliverEvent(sub, payload, routingKey);
    }
    for (const [queue, patterns] of this.bindings) {
      if (patterns.some((pattern) => matchesTopic(pattern, routingKey)))
        this.enqueue(this.queue(queue), {
          payload,
          messageId: options?.messageId ?? randomUUID(),
          attempt: 1,
          routingKey,
        });
    }
  }

  async subscribeEvents(
    patterns: string[],
    handler: EventHandler,
    options?: DurableSubscriptionOptions,
  ): Promise<Consumer> {
    this.assertOpen();
    assertPatterns(patterns);
    if (options) {
      assertQueueName(options.queue);
      const { prefetch, retryDelaysMs } = resolveConsumeOptions(options);
      const bound = this.bindings.get(options.queue) ?? [];
      this.bindings.set(options.queue, [...new Set([...bound, ...patterns])]);
      return this.addConsumer(
        this.queue(options.queue),
        prefetch,
        retryDelaysMs,
        async (message, _info, key) => {
          await handler(message as DomainEvent, key ?? '');
        },
      );
    }
    const sub: Subscription = { patterns: [...patterns], handler, closed: false, inFlight: new Set() };
    this.subscriptions.add(sub);
    return {
      close: async () => {
        sub.closed = true;
        this.subscriptions.delete(sub);
        await Promise.allSettled(sub.inFlight);
      },
    };
  }

  async deadLetters(queue: string, limit = 100): Promise<WorkMessage[]> {
    assertQueueName(queue);
    const q = this.queues.get(queue);
    return (q?.dead ?? []).slice(0, limit).map((e) => JSON.parse(e.payload) as WorkMessage);
  }

  async purge(queue: string): Promise<void> {
    assertQueueName(queue);
    const q = this.queues.get(queue);
    if (!q) return;
    q.ready.length = 0;
    q.dead.length = 0;
    // Pending retries and delayed sends are what the RabbitMQ retry/delay queues would hold.
    for (const timer of q.timers) clearTimeout(timer);
    q.timers.clear();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const consumers = [...this.queues.values()].flatMap((q) => q.consumers);
    const subscriptions = [...this.subscriptions];
    for (const sub of subscriptions) sub.closed = true;
    this.subscriptions.clear();
    const graceful = Promise.allSettled([
      ...consumers.map((c) => c.close()),
      ...subscriptions.flatMap((s) => [...s.inFlight]),
    ]);
    if (!(await settlesWithin(graceful, this.shutdownTimeoutMs))) {
      this.logger.warn(
        { timeoutMs: this.shutdownTimeoutMs },
        'handlers still running at shutdown; abandoning them',
      );
    }
    for (const q of this.queues.values()) {
      for (const timer of q.timers) clearTimeout(timer);
      q.timers.clear();
    }
  }

  private addConsumer(
    q: LocalQueue,
    prefetch: number,
    retryDelaysMs: readonly number[],
    handler: LocalHandler,
  ): Consumer {
    const consumer = new LocalConsumer(this, q, prefetch, retryDelaysMs, handler);
    q.consumers.push(consumer);
    this.schedulePump(q);
    return consumer;
  }

  /** @internal Called by LocalConsumer when a handler failed. */
  retryOrBury(q: LocalQueue, envelope: Envelope, err: unknown, retryDelaysMs: readonly number[]): void {
    const outcome = failureOutcome(err, envelope.attempt, retryDelaysMs);
    const context = {
      queue: q.name,
      messageId: envelope.messageId,
      attempt: envelope.attempt,
      ...idsOf(JSON.parse(envelope.payload)),
    };
    if (outcome.kind === 'retry') {
      this.logger.warn(
        { ...context, err, retryInMs: outcome.delayMs },
        'work handler failed; retry scheduled',
      );
      this.enqueueAfter(q, outcome.delayMs, { ...envelope, attempt: outcome.nextAttempt });
    } else {
      this.logger.error(
        { ...context, err, reason: outcome.reason, error: errorText(err) },
        'work message dead-lettered',
      );
      q.dead.push(envelope);
    }
  }

  /** @internal Deliveries start on a later tick, as they would from a broker. */
  schedulePump(q: LocalQueue): void {
    if (q.pumpScheduled || this.closing) return;
    q.pumpScheduled = true;
    setImmediate(() => {
      q.pumpScheduled = false;
      if (this.closing) return;
      while (q.ready.length > 0) {
        const consumer = nextWithCapacity(q);
        if (!consumer) return;
        consumer.run(q.ready.shift()!);
      }
    });
  }

  private enqueue(q: LocalQueue, envelope: Envelope): void {
    q.ready.push(envelope);
    this.schedulePump(q);
  }

  /** Never early: timers may fire a millisecond ahead of the clock, so re-arm until the delay has passed. */
  private enqueueAfter(q: LocalQueue, ms: number, envelope: Envelope): void {
    if (this.closing) {
      // In-process only: a timer now would outlive the bus and keep the process alive.
      this.logger.warn(
        { queue: q.name, messageId: envelope.messageId },
        'bus closed; delayed message dropped',
      );
      return;
    }
    const due = performance.now() + ms;
    const arm = (wait: number) => {
      const timer = setTimeout(() => {
        q.timers.delete(timer);
        const left = due - performance.now();
        if (left > 0) arm(Math.ceil(left));
        else this.enqueue(q, envelope);
      }, wait);
      q.timers.add(timer);
    };
    arm(ms);
  }

  private deliverEvent(sub: Subscription, payload: string, routingKey: string): void {
    const delivery = (async () => {
      await null; // never run a subscriber inside the publisher's call
      if (sub.closed) return;
      try {
        await sub.handler(JSON.parse(payload) as DomainEvent, routingKey);
      } catch (err) {
        this.logger.error({ err, routingKey, ...idsOf(JSON.parse(payload)) }, 'event handler failed');
      }
    })();
    sub.inFlight.add(delivery);
    void delivery.finally(() => sub.inFlight.delete(delivery));
  }

  private queue(name: string): LocalQueue {
    let q = this.queues.get(name);
    if (!q) {
      q = { name, ready: [], dead: [], timers: new Set(), consumers: [], cursor: 0, pumpScheduled: false };
      this.queues.set(name, q);
    }
    return q;
  }

  private assertOpen(): void {
    if (this.closing) throw new BusError('bus is closed');
  }
}

/** Round-robin over the consumers that are below their prefetch. */
function nextWithCapacity(q: LocalQueue): LocalConsumer | undefined {
  const n = q.consumers.length;
  for (let i = 0; i < n; i++) {
    const consumer = q.consumers[(q.cursor + i) % n];
    if (consumer.hasCapacity()) {
      q.cursor = (q.cursor + i + 1) % n;
      return consumer;
    }
  }
  return undefined;
}

class LocalConsumer implements Consumer {
  private inFlight = 0;
  private closed = false;
  private idle: Array<() => void> = [];
  private readonly bus: MemoryBus;
  private readonly q: LocalQueue;
  private readonly prefetch: number;
  private readonly retryDelaysMs: readonly number[];
  private readonly handler: LocalHandler;

  constructor(
    bus: MemoryBus,
    q: LocalQueue,
    prefetch: number,
    retryDelaysMs: readonly number[],
    handler: LocalHandler,
  ) {
    this.bus = bus;
    this.q = q;
    this.prefetch = prefetch;
    this.retryDelaysMs = retryDelaysMs;
    this.handler = handler;
  }

  hasCapacity(): boolean {
    return !this.closed && this.inFlight < this.prefetch;
  }

  run(envelope: Envelope): void {
    this.inFlight++;
    void this.process(envelope).finally(() => {
      this.inFlight--;
      if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
      this.bus.schedulePump(this.q);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const index = this.q.consumers.indexOf(this);
    if (index >= 0) this.q.consumers.splice(index, 1);
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private async process(envelope: Envelope): Promise<void> {
    const info = {
      attempt: envelope.attempt,
      queue: this.q.name,
      messageId: envelope.messageId,
      redelivered: false,
    };
    try {
      await this.handler(JSON.parse(envelope.payload) as WorkMessage, info, envelope.routingKey);
    } catch (err) {
      this.bus.retryOrBury(this.q, envelope, err, this.retryDelaysMs);
    }
  }
}
