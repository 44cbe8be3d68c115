// The message bus: RabbitMQ when an AMQP URL is configured, else the in-process bus (embedded mode).
import { consoleLogger } from './delivery-policy.ts';
import { MemoryBus } from './memory-bus.ts';
import type { QueueType } from './queue-type.ts';
import { RabbitMqBus } from './rabbitmq-bus.ts';
import type { Bus, BusLogger } from './types.ts';

export { DEFAULT_PREFETCH, DEFAULT_RETRY_DELAYS_MS, MAX_DELAY_MS } from './delivery-policy.ts';
export { MemoryBus } from './memory-bus.ts';
export { type QueueType, queueTypeFor, readServerProperties } from './queue-type.ts';
export { RabbitMqBus } from './rabbitmq-bus.ts';
export { matchesTopic } from './topic-pattern.ts';
export { eventsExchangeName, type QueueNames, queueNames } from './topology.ts';
export {
  type Bus,
  BusError,
  type BusLogger,
  type ConsumeOptions,
  type Consumer,
  type DeliveryInfo,
  type DomainEvent,
  type DurableSubscriptionOptions,
  type EventHandler,
  PermanentError,
  type WorkHandler,
  type WorkMessage,
} from './types.ts';

export interface CreateBusOptions {
  amqpUrl?: string;
  logger?: BusLogger;
  /** Prefixes every queue and exchange name (test isolation). Default ''. */
  prefix?: string;
  /** How long close() waits for running handlers; RabbitMQ then drops the connection so the broker redelivers. Default 10 s. */
  shutdownTimeoutMs?: number;
  /** RabbitMQ only: `auto` (default) picks quorum queues on 3.13+, classic queues before. */
  queueType?: QueueType | 'auto';
}

export async function createBus(options: CreateBusOptions = {}): Promise<Bus> {
  const logger = options.logger ?? consoleLogger;
  if (options.amqpUrl) {
    return RabbitMqBus.connect({
      url: options.amqpUrl,
      logger,
      prefix: options.prefix,
      shutdownTimeoutMs: options.shutdownTimeoutMs,
      queueType: options.queueType,
    });
  }
  // Queue names live inside this process only, so the prefix has nothing to isolate.
  return new MemoryBus({ logger, shutdownTimeoutMs: options.shutdownTimeoutMs });
}
export {
  assertIds,
  type BatchQueueDescriptor,
  consumeBatch,
  consumeWork,
  defineBatchQueue,
  defineEvent,
  defineQueue,
  type EventDescriptor,
  eventRoutingKey,
  type Ids,
  type PublishedEvent,
  type QueueDescriptor,
  RETRY_DELAYS,
  type RetryDelay,
  sendBatch,
  sendWork,
  subscribeToEvents,
} from './descriptors.ts';
