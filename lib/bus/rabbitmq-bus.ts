// RabbitMQ bus: durable work queues, one TTL queue per delay dead-lettering back to the work queue
// (3.10 has no delayed-message plugin), a durable dead queue, and a topic exchange for domain events.
import { randomUUID } from 'node:crypto';
import {
  type Consumer as AmqpConsumer,
  type AsyncMessage,
  Connection,
  ConsumerStatus,
  type Publisher,
  type ReturnedMessage,
} from 'rabbitmq-client';
import {
  assertCopies,
  assertDelay,
  assertEvent,
  assertPatterns,
  assertQueueName,
  assertWorkMessage,
  attemptOf,
  DEFAULT_RETRY_DELAYS_MS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  errorText,
  type FailureOutcome,
  failureOutcome,
  idsOf,
  isWorkMessage,
  resolveConsumeOptions,
  settlesWithin,
  sleep,
} from './delivery-policy.ts';
import { type QueueType, queueTypeFor, readServerProperties } from './queue-type.ts';
import { eventsExchangeName, type QueueNames, queueNames } from './topology.ts';
import {
  type Bus,
  BusError,
  type BusLogger,
  type ConsumeOptions,
  type Consumer,
  type DomainEvent,
  type DurableSubscriptionOptions,
  type EventHandler,
  type WorkHandler,
  type WorkMessage,
} from './types.ts';

export interface RabbitMqBusOptions {
  url: string;
  logger: BusLogger;
  prefix?: string;
  /** How long close() waits for running handlers before dropping the connection (the broker then redelivers). */
  shutdownTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** `auto` (default): quorum queues on RabbitMQ 3.13 and later, classic queues on older brokers. */
  queueType?: QueueType | 'auto';
}

interface QueueSpec {
  queue: string;
  durable: true;
  arguments?: Record<string, string | number>;
}

// ~20k msg/s with 1000 confirms in flight here; more only grows memory.
const SEND_WINDOW = 1000;
const EVENT_PREFETCH = 100;
// A broker that refuses the retry copy must not turn the consumer into a hot loop.
const REQUEUE_BACKOFF_MS = 1000;

export class RabbitMqBus implements Bus {
  readonly kind = 'rabbitmq' as const;
  /** The type of every durable queue this bus declares (plain event subscriptions stay exclusive classic queues). */
  readonly queueType: QueueType;
  private readonly conn: Connection;
  private readonly publisher: Publisher;
  private readonly logger: BusLogger;
  private readonly prefix: string;
  private readonly exchange: string;
  private readonly shutdownTimeoutMs: number;
  private readonly declared = new Map<string, Promise<void>>();
  // Delay/retry queues seen per logical queue, so purge() reaches them.
  private readonly delayQueues = new Map<string, Map<string, QueueSpec>>();
  // Unroutable mandatory publishes by routing key + message id: the return arrives before the confirm.
  private readonly returned = new Map<string, number>();
  private readonly consumers = new Set<AmqpConsumer>();
  private closing: Promise<void> | undefined;

  static async connect(options: RabbitMqBusOptions): Promise<RabbitMqBus> {
    const conn = new Connection({
      url: options.url,
      connectionName: 'prospectflow-bus',
      // The client leaves Nagle's algorithm on by default: a message sent as several frames (over ~16 KB, such as
      // a batch of tracking hits) then waits for the broker's delayed ACK, ~40 ms on every publish and confirm.
      noDelay: true,
    });
    conn.on('error', (err) => options.logger.error({ err }, 'rabbitmq connection error'));
    try {
      // Fails fast at start-up; after that the client reconnects on its own.
      await conn.onConnect(options.connectTimeoutMs ?? 10_000);
    } catch (err) {
      conn.unsafeDestroy();
      throw new BusError(`cannot connect to RabbitMQ: ${errorText(err)}`);
    }
    let queueType: QueueType;
    if (options.queueType && options.queueType !== 'auto') {
      queueType = options.queueType;
    } else {
      let version: string | undefined;
      try {
        const properties = await readServerProperties(options.url, options.connectTimeoutMs ?? 10_000);
        version = typeof properties.version === 'string' ? properties.version : undefined;
      } catch (err) {
        conn.unsafeDestroy();
        throw err;
      }
      queueType = queueTypeFor(version);
      const log = options.logger.info ?? options.logger.warn;
      log.call(
        options.logger,
        { queueType, brokerVersion: version ?? 'unknown' },
        queueType === 'quorum'
          ? `RabbitMQ ${version}: quorum queues`
          : `RabbitMQ ${version ?? '(version unknown)'}: classic queues (quorum queues from 3.13)`,
      );
    }
    const bus = new RabbitMqBus(conn, options, queueType);
    await conn.exchangeDeclare({ exchange: bus.exchange, type: 'topic', durable: true });
    return bus;
  }

  private constructor(conn: Connection, options: RabbitMqBusOptions, queueType: QueueType) {
    this.conn = conn;
    this.queueType = queueType;
    this.logger = options.logger;
    this.prefix = options.prefix ?? '';
    this.exchange = eventsExchangeName(this.prefix);
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    this.publisher = conn.createPublisher({
      confirm: true,
      maxAttempts: 2,
      // Re-declared on every reconnect, so an event publish never hits a missing exchange.
      exchanges: [{ exchange: this.exchange, type: 'topic', durable: true }],
    });
    // The `onReturn` prop is not wired up in rabbitmq-client 5.0.8; the event is.
    this.publisher.on('basic.return', (msg) => this.onReturn(msg));
    this.publisher.on('retry', (err) => this.logger.warn({ err }, 'rabbitmq publish failed; retrying'));
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
    const names = queueNames(this.prefix, queue);
    await this.ensureQueue(this.workSpec(names));
    const target = delayMs > 0 ? this.delaySpec(queue, names.delay(delayMs), delayMs) : this.workSpec(names);
    await this.publishToQueue(target, message, { messageId: options?.messageId ?? randomUUID() });
  }

  async sendMany(queue: string, messages: WorkMessage[]): Promise<void> {
    this.assertOpen();
    assertQueueName(queue);
    for (const message of messages) assertWorkMessage(message);
    const spec = this.workSpec(queueNames(this.prefix, queue));
    await this.ensureQueue(spec);
    for (let start = 0; start < messages.length; start += SEND_WINDOW) {
      const batch = messages.slice(start, start + SEND_WINDOW);
      // All confirms of a window in flight together; wait for every one so none is left dangling on error.
      const results = await Promise.allSettled(
        batch.map((message) => this.publishToQueue(spec, message, { messageId: randomUUID() })),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  async sendToQueues(
    queues: readonly string[],
    message: WorkMessage,
    options?: { messageId?: string },
  ): Promise<void> {
    this.assertOpen();
    assertCopies(queues, message);
    const specs = queues.map((queue) => this.workSpec(queueNames(this.prefix, queue)));
    for (const spec of specs) await this.ensureQueue(spec);
    const [first, ...others] = specs;
    // Sender-selected distribution: the CC header routes this one publish to the other queues as well, so the
    // broker confirms once (after every queue has it) instead of once per copy. Retries and dead letters are
    // published anew without the header, so a failing consumer never sends a copy back to another queue.
    await this.publishToQueue(first!, message, {
      messageId: options?.messageId ?? randomUUID(),
      ...(others.length > 0 ? { headers: { CC: others.map((spec) => spec.queue) } } : {}),
    });
  }

  async consume<T = WorkMessage>(
    queue: string,
    handler: WorkHandler<T>,
    options?: ConsumeOptions,
  ): Promise<Consumer> {
    this.assertOpen();
    assertQueueName(queue);
    const { prefetch, retryDelaysMs } = resolveConsumeOptions(options);
    const names = await this.ensureConsumedQueues(queue, retryDelaysMs);

    const amqp = this.conn.createConsumer(
      {
        queue: names.work,
        queueOptions: { durable: true },
        qos: { prefetchCount: prefetch },
        concurrency: prefetch,
        // Only reached if our own wrapper throws; the message must not be lost then.
        requeue: true,
      },
      (msg) => this.deliver(queue, names, retryDelaysMs, (body, info) => handler(body as T, info), msg),
    );
    await this.track(amqp, `consumer of ${queue}`);
    return { close: () => this.untrack(amqp) };
  }

  async publishEvent(
    routingKey: string,
    event: DomainEvent,
    options?: { messageId?: string },
  ): Promise<void> {
    this.assertOpen();
    assertEvent(routingKey, event);
    // Not mandatory: an event nobody listens to is simply dropped. Persistent, for the durable subscriptions.
    await this.publisher.send(
      { exchange: this.exchange, routingKey, messageId: options?.messageId ?? randomUUID(), durable: true },
      event,
    );
  }

  async subscribeEvents(
    patterns: string[],
    handler: EventHandler,
    options?: DurableSubscriptionOptions,
  ): Promise<Consumer> {
    this.assertOpen();
    assertPatterns(patterns);
    if (options) return this.subscribeDurable(patterns, handler, options);
    const amqp = this.conn.createConsumer(
      {
        // Server-named, exclusive, auto-delete: each subscriber gets its own copy; a new queue after a reconnect.
        queue: '',
        queueOptions: { exclusive: true, autoDelete: true },
        qos: { prefetchCount: EVENT_PREFETCH },
        exchanges: [{ exchange: this.exchange, type: 'topic', durable: true }],
        // An empty queue name binds the queue just declared on the consumer's channel.
        queueBindings: patterns.map((routingKey) => ({ exchange: this.exchange, queue: '', routingKey })),
      },
      async (msg) => {
        if (!isWorkMessage(msg.body)) {
          this.logger.error({ routingKey: msg.routingKey }, 'dropping malformed event');
          return ConsumerStatus.ACK;
        }
        try {
          await handler(msg.body as DomainEvent, msg.routingKey);
        } catch (err) {
          // Events are notifications: a failing subscriber logs and moves on, it does not block the stream.
          this.logger.error({ err, routingKey: msg.routingKey, ...idsOf(msg.body) }, 'event handler failed');
        }
        return ConsumerStatus.ACK;
      },
    );
    await this.track(amqp, 'event subscriber');
    return { close: () => this.untrack(amqp) };
  }

  /** A work queue bound to the exchange: same declarations, retries and dead letters as consume(). */
  private async subscribeDurable(
    patterns: string[],
    handler: EventHandler,
    options: DurableSubscriptionOptions,
  ): Promise<Consumer> {
    const { queue } = options;
    assertQueueName(queue);
    const { prefetch, retryDelaysMs } = resolveConsumeOptions(options);
    const names = await this.ensureConsumedQueues(queue, retryDelaysMs);
    // Bound before consuming: from here on no matching event is lost, subscriber or not.
    for (const routingKey of patterns)
      await this.conn.queueBind({ queue: names.work, exchange: this.exchange, routingKey });

    const amqp = this.conn.createConsumer(
      {
        queue: names.work,
        queueOptions: { durable: true },
        qos: { prefetchCount: prefetch },
        concurrency: prefetch,
        requeue: true,
      },
      (msg) =>
        this.deliver(
          queue,
          names,
          retryDelaysMs,
          async (body) => {
            await handler(body as DomainEvent, eventRoutingKeyOf(msg));
          },
          msg,
        ),
    );
    await this.track(amqp, `event subscriber of ${queue}`);
    return { close: () => this.untrack(amqp) };
  }

  async deadLetters(queue: string, limit = 100): Promise<WorkMessage[]> {
    this.assertOpen();
    assertQueueName(queue);
    const spec = this.deadSpec(queueNames(this.prefix, queue));
    await this.ensureQueue(spec);
    const ch = await this.conn.acquire();
    const messages: WorkMessage[] = [];
    try {
      while (messages.length < limit) {
        const msg = await ch.basicGet({ queue: spec.queue, noAck: false });
        if (!msg) break;
        messages.push(msg.body as WorkMessage);
      }
    } finally {
      // Unacked gets go back to their places in the queue when the channel closes: a peek, not a drain.
      await ch.close();
    }
    return messages;
  }

  async purge(queue: string): Promise<void> {
    this.assertOpen();
    assertQueueName(queue);
    const names = queueNames(this.prefix, queue);
    const specs = new Map<string, QueueSpec>([
      [names.work, this.workSpec(names)],
      [names.dead, this.deadSpec(names)],
    ]);
    for (const ms of DEFAULT_RETRY_DELAYS_MS)
      specs.set(names.retry(ms), this.delaySpec(queue, names.retry(ms), ms));
    for (const [name, spec] of this.delayQueues.get(queue) ?? []) specs.set(name, spec);
    for (const spec of specs.values()) {
      await this.ensureQueue(spec);
      await this.conn.queuePurge({ queue: spec.queue });
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const graceful = (async () => {
      await Promise.allSettled([...this.consumers].map((c) => c.close()));
      await this.publisher.close();
      await this.conn.close();
    })().catch((err) => this.logger.error({ err }, 'rabbitmq bus did not close cleanly'));
    if (!(await settlesWithin(graceful, this.shutdownTimeoutMs))) {
      // Like a crash: the broker requeues every unacked message for the next consumer.
      this.logger.warn(
        { timeoutMs: this.shutdownTimeoutMs },
        'handlers still running at shutdown; dropping the connection',
      );
      this.conn.unsafeDestroy();
    }
  }

  private async deliver(
    queue: string,
    names: QueueNames,
    retryDelaysMs: readonly number[],
    handler: WorkHandler<WorkMessage>,
    msg: AsyncMessage,
  ): Promise<ConsumerStatus> {
    const attempt = attemptOf(msg.headers?.['x-attempt']);
    const messageId = typeof msg.messageId === 'string' ? msg.messageId : '';
    if (!isWorkMessage(msg.body)) {
      return this.settleFailure(queue, names, msg, attempt, new BusError('malformed message body'), {
        kind: 'dead',
        reason: 'malformed',
      });
    }
    try {
      await handler(msg.body, { attempt, queue, messageId, redelivered: msg.redelivered });
      return ConsumerStatus.ACK;
    } catch (err) {
      return this.settleFailure(queue, names, msg, attempt, err, failureOutcome(err, attempt, retryDelaysMs));
    }
  }

  /** Parks the failed message in a retry or the dead queue; the original is acked only once that copy is confirmed. */
  private async settleFailure(
    queue: string,
    names: QueueNames,
    msg: AsyncMessage,
    attempt: number,
    err: unknown,
    outcome: FailureOutcome,
  ): Promise<ConsumerStatus> {
    const messageId = typeof msg.messageId === 'string' && msg.messageId ? msg.messageId : undefined;
    const context = { queue, messageId, attempt, ...idsOf(msg.body) };
    // a retry copy reaches its queue by the default exchange: an event keeps its own routing key in a header
    const routingKey = msg.exchange ? msg.routingKey : msg.headers?.['x-routing-key'];
    const kept: Record<string, string> =
      typeof routingKey === 'string' ? { 'x-routing-key': routingKey } : {};
    try {
      if (outcome.kind === 'retry') {
        const spec = this.delaySpec(queue, names.retry(outcome.delayMs), outcome.delayMs);
        await this.publishToQueue(spec, msg.body, {
          messageId,
          contentType: msg.contentType,
          headers: { ...kept, 'x-attempt': outcome.nextAttempt },
        });
        this.logger.warn(
          { ...context, err, retryInMs: outcome.delayMs },
          'work handler failed; retry scheduled',
        );
      } else {
        await this.publishToQueue(this.deadSpec(names), msg.body, {
          messageId,
          contentType: msg.contentType,
          headers: {
            ...kept,
            'x-attempt': attempt,
            'x-dead-reason': outcome.reason,
            'x-error': errorText(err),
          },
        });
        this.logger.error({ ...context, err, reason: outcome.reason }, 'work message dead-lettered');
      }
      return ConsumerStatus.ACK;
    } catch (publishErr) {
      this.logger.error(
        { ...context, err: publishErr, handlerError: errorText(err) },
        'could not park failed message; requeueing it',
      );
      await sleep(REQUEUE_BACKOFF_MS);
      return ConsumerStatus.REQUEUE;
    }
  }

  private async publishToQueue(
    spec: QueueSpec,
    body: unknown,
    props: {
      messageId?: string;
      contentType?: string;
      headers?: Record<string, string | number | string[]>;
    },
  ): Promise<void> {
    await this.ensureQueue(spec);
    await this.publisher.send(
      {
        exchange: '',
        routingKey: spec.queue,
        // Mandatory: a queue deleted behind our back comes back as a return instead of a silent drop.
        mandatory: true,
        durable: true,
        ...props,
      },
      body,
    );
    // The broker sends basic.return before the ack, but rabbitmq-client emits it on setImmediate while the
    // ack resolves at once: one macrotask later the return for this message, if any, has been seen.
    await new Promise((resolve) => setImmediate(resolve));
    const key = returnKey(spec.queue, props.messageId);
    const count = this.returned.get(key);
    if (count !== undefined) {
      if (count <= 1) this.returned.delete(key);
      else this.returned.set(key, count - 1);
      this.declared.delete(spec.queue);
      throw new BusError(`queue ${spec.queue} does not exist; message not routed`);
    }
  }

  private onReturn(msg: ReturnedMessage): void {
    const key = returnKey(msg.routingKey, typeof msg.messageId === 'string' ? msg.messageId : undefined);
    this.returned.set(key, (this.returned.get(key) ?? 0) + 1);
    this.logger.warn(
      { queue: msg.routingKey, messageId: msg.messageId, reason: msg.replyText },
      'message returned',
    );
  }

  /** A consumed queue's topology: its work and dead queues and one retry queue per delay. */
  private async ensureConsumedQueues(queue: string, retryDelaysMs: readonly number[]): Promise<QueueNames> {
    const names = queueNames(this.prefix, queue);
    await this.ensureQueue(this.workSpec(names));
    await this.ensureQueue(this.deadSpec(names));
    for (const ms of new Set(retryDelaysMs))
      await this.ensureQueue(this.delaySpec(queue, names.retry(ms), ms));
    return names;
  }

  private workSpec(names: QueueNames): QueueSpec {
    return { queue: names.work, durable: true, arguments: this.typeArguments() };
  }

  private deadSpec(names: QueueNames): QueueSpec {
    return { queue: names.dead, durable: true, arguments: this.typeArguments() };
  }

  private typeArguments(): Record<string, string> {
    return { 'x-queue-type': this.queueType };
  }

  private ensureQueue(spec: QueueSpec): Promise<void> {
    let declared = this.declared.get(spec.queue);
    if (!declared) {
      declared = this.declareQueue(spec);
      // A failed declare is retried by the next caller rather than cached.
      declared.catch(() => this.declared.delete(spec.queue));
      this.declared.set(spec.queue, declared);
    }
    return declared;
  }

  /** A queue made before the broker's upgrade keeps its type: use it as it is rather than fail. */
  private async declareQueue(spec: QueueSpec): Promise<void> {
    try {
      await this.conn.queueDeclare(spec);
    } catch (err) {
      if ((err as { code?: string }).code !== 'PRECONDITION_FAILED' || !/x-queue-type/.test(errorText(err))) {
        throw err;
      }
      await this.conn.queueDeclare({ queue: spec.queue, passive: true });
      this.logger.warn(
        { queue: spec.queue, queueType: this.queueType },
        'queue exists with another type; keeping it (delete it while empty to change its type)',
      );
    }
  }

  private delaySpec(queue: string, name: string, ms: number): QueueSpec {
    const spec: QueueSpec = {
      queue: name,
      durable: true,
      arguments: {
        ...this.typeArguments(),
        // One TTL per queue keeps expiry FIFO: a per-message TTL would wait behind the head message.
        'x-message-ttl': ms,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': queueNames(this.prefix, queue).work,
      },
    };
    const known = this.delayQueues.get(queue) ?? new Map<string, QueueSpec>();
    known.set(name, spec);
    this.delayQueues.set(queue, known);
    return spec;
  }

  /** Resolves once the consumer is consuming; a setup failure (e.g. mismatched queue arguments) rejects. */
  private track(amqp: AmqpConsumer, what: string): Promise<void> {
    this.consumers.add(amqp);
    amqp.on('error', (err) => this.logger.error({ err }, `rabbitmq ${what} error`));
    return new Promise((resolve, reject) => {
      const onReady = () => {
        amqp.off('error', onError);
        resolve();
      };
      const onError = (err: unknown) => {
        amqp.off('ready', onReady);
        this.untrack(amqp).catch(() => undefined);
        reject(err);
      };
      amqp.once('ready', onReady);
      amqp.once('error', onError);
    });
  }

  private async untrack(amqp: AmqpConsumer): Promise<void> {
    this.consumers.delete(amqp);
    await amqp.close();
  }

  private assertOpen(): void {
    if (this.closing) throw new BusError('bus is closed');
  }
}

/** The routing key an event was published with, also on a retried copy. */
function eventRoutingKeyOf(msg: AsyncMessage): string {
  const kept = msg.headers?.['x-routing-key'];
  return typeof kept === 'string' ? kept : msg.routingKey;
}

function returnKey(queue: string, messageId: string | undefined): string {
  return `${queue}\u0000${messageId ?? ''}`;
}
