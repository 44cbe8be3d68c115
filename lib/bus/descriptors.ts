// Typed queues and events: declared once (lib/bus/catalog.ts), used by senders and consumers alike, so a
// payload type cannot drift between them. Payloads carry ids only, except on batch queues, whose messages carry
// records checked by the queue's own validator; every message also has a message id.
import { assertDelay } from './delivery-policy.ts';
import { type Bus, BusError, type Consumer, type DomainEvent, PermanentError } from './types.ts';

/** The only retry delays a queue may use: a handful of queues per delay on the broker, not one per whim. */
export const RETRY_DELAYS = {
  '5s': 5_000,
  '30s': 30_000,
  '2m': 120_000,
  '10m': 600_000,
  '1h': 3_600_000,
} as const;
export type RetryDelay = keyof typeof RETRY_DELAYS;

/** A message body: ids only (`organisationId`, `taskId`…, and instants such as `sentAt`); the handler re-reads the rows. */
export type Ids = { [key: string]: string };

const ID_KEY = /^(id|[a-z][A-Za-z0-9]*Id)$/;
// besides ids, a payload may say when something happened (`sentAt`): an ISO-8601 UTC instant
const TIME_KEY = /^[a-z][A-Za-z0-9]*At$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const NAME = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/;
const EVENT_NAME = /^[A-Z][A-Z0-9_]*$/;

export interface QueueDescriptor<P extends Ids> {
  readonly name: string;
  readonly retryDelays: readonly RetryDelay[];
  readonly retryDelaysMs: readonly number[];
  readonly prefetch: number;
  /** Type only: never set. */
  readonly payload?: P;
}

export interface EventDescriptor<P extends Ids> {
  readonly name: string;
  /** Topic-exchange pattern matching this event of every campaign. */
  readonly pattern: string;
  routingKey(campaignId: string): string;
  /** Type only: never set. */
  readonly payload?: P;
}

/** An event as relayed from the outbox: its envelope, then the payload's ids. */
export type PublishedEvent<P extends Ids = Record<never, string>> = DomainEvent &
  P & {
    eventId: string;
    campaignId: string;
    /** Position in its campaign's stream: 1, 2, 3… with no gaps. */
    sequence: number;
  };

/**
 * A queue whose messages carry records rather than ids (tracking hits, group-committed by the endpoint that
 * answers them): `validate` checks each message on both sides, so neither a sender nor a consumer takes a
 * malformed one.
 */
export interface BatchQueueDescriptor<P extends object> extends QueueDescriptor<any> {
  validate(body: unknown): asserts body is P;
  /** Type only: never set. */
  readonly batch?: P;
}

interface QueueSpec {
  name: string;
  retryDelays: RetryDelay[];
  prefetch?: number;
}

export function defineQueue<P extends Ids>(spec: QueueSpec): QueueDescriptor<P> {
  return Object.freeze(queueOf(spec));
}

export function defineBatchQueue<P extends object>(
  spec: QueueSpec & { validate: (body: unknown) => asserts body is P },
): BatchQueueDescriptor<P> {
  return Object.freeze({ ...queueOf(spec), validate: spec.validate });
}

function queueOf(spec: QueueSpec): QueueDescriptor<never> {
  if (!NAME.test(spec.name))
    throw new BusError(`queue name ${JSON.stringify(spec.name)} must be dotted lower-case words`);
  const retryDelaysMs = spec.retryDelays.map((delay) => {
    const ms = RETRY_DELAYS[delay];
    if (ms === undefined)
      throw new BusError(
        `retry delay ${JSON.stringify(delay)} is not one of ${Object.keys(RETRY_DELAYS).join(', ')}`,
      );
    assertDelay(ms, 'retry delay');
    return ms;
  });
  return {
    name: spec.name,
    retryDelays: Object.freeze([...spec.retryDelays]),
    retryDelaysMs: Object.freeze(retryDelaysMs),
    prefetch: spec.prefetch ?? 10,
  };
}

export function eventRoutingKey(campaignId: string, name: string): string {
  return `campaign.${campaignId}.${name}`;
}

export function defineEvent<P extends Ids>(spec: { name: string }): EventDescriptor<P> {
  if (!EVENT_NAME.test(spec.name))
    throw new BusError(`event name ${JSON.stringify(spec.name)} must be UPPER_SNAKE_CASE`);
  const name = spec.name;
  return Object.freeze({
    name,
    pattern: `campaign.*.${name}`,
    routingKey: (campaignId: string) => eventRoutingKey(campaignId, name),
  });
}

/** Throws unless the body is a plain object of id fields holding non-empty strings (and `…At` instants). */
export function assertIds(body: unknown, what = 'payload'): asserts body is Ids {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BusError(`${what} must be an object of ids`);
  }
  for (const [key, value] of Object.entries(body)) {
    if (TIME_KEY.test(key)) {
      if (typeof value !== 'string' || !ISO_INSTANT.test(value) || Number.isNaN(Date.parse(value)))
        throw new BusError(`${what} field "${key}" must be an ISO-8601 UTC instant`);
      continue;
    }
    if (!ID_KEY.test(key)) throw new BusError(`${what} carries ids only: "${key}" is not an id field`);
    if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
      throw new BusError(`${what} field "${key}" must be a non-empty string id`);
    }
  }
}

/** Sends one work message, confirmed by the broker. The message id names the work (e.g. `draft:<taskId>`). */
export async function sendWork<P extends Ids>(
  bus: Bus,
  queue: QueueDescriptor<P>,
  payload: P,
  options: { messageId: string; delayMs?: number },
): Promise<void> {
  assertIds(payload);
  if (!options.messageId) throw new BusError('a work message needs a message id');
  await bus.send(queue.name, payload, { messageId: options.messageId, delayMs: options.delayMs });
}

type DeliveryHandler<P> = (
  payload: P,
  info: { attempt: number; messageId: string; redelivered: boolean },
) => Promise<void>;

/** Consumes `queue` with its declared retry delays; a body `validate` refuses goes straight to the dead letters. */
function consumeChecked<P>(
  bus: Bus,
  queue: { name: string; prefetch: number; retryDelaysMs: readonly number[] },
  validate: (body: unknown) => void,
  handler: DeliveryHandler<P>,
  options: { prefetch?: number },
): Promise<Consumer> {
  return bus.consume<unknown>(
    queue.name,
    async (body, info) => {
      try {
        validate(body);
      } catch (err) {
        throw new PermanentError(`message on ${queue.name}: ${(err as Error).message}`);
      }
      await handler(body as P, info);
    },
    { prefetch: options.prefetch ?? queue.prefetch, retryDelaysMs: [...queue.retryDelaysMs] },
  );
}

/** Consumes a queue with its declared retry delays; a body that is not ids only goes to the dead letters. */
export function consumeWork<P extends Ids>(
  bus: Bus,
  queue: QueueDescriptor<P>,
  handler: DeliveryHandler<P>,
  options: { prefetch?: number } = {},
): Promise<Consumer> {
  return consumeChecked(bus, queue, (body) => assertIds(body), handler, options);
}

/**
 * Sends one batch message to each of `queues` (checked once per validator) in one publish, resolving when the
 * broker has confirmed it, every copy included.
 */
export async function sendBatch<P extends object>(
  bus: Bus,
  queues: BatchQueueDescriptor<P> | readonly BatchQueueDescriptor<P>[],
  payload: P,
  options: { messageId: string },
): Promise<void> {
  const targets = Array.isArray(queues) ? queues : [queues as BatchQueueDescriptor<P>];
  for (const validate of new Set(targets.map((q) => q.validate))) validate(payload);
  if (!options.messageId) throw new BusError('a work message needs a message id');
  await bus.sendToQueues(
    targets.map((q) => q.name),
    payload as Record<string, unknown>,
    { messageId: options.messageId },
  );
}

/** Consumes a batch queue with its declared retry delays; a message its validator refuses goes to the dead letters. */
export function consumeBatch<P extends object>(
  bus: Bus,
  queue: BatchQueueDescriptor<P>,
  handler: DeliveryHandler<P>,
  options: { prefetch?: number } = {},
): Promise<Consumer> {
  return consumeChecked(bus, queue, queue.validate, handler, options);
}

type PayloadOf<E> = E extends EventDescriptor<infer P> ? P : never;

/**
 * Subscribes to the given events of every campaign of every organisation (filter by organisationId). With
 * `durable`, the subscription is a named durable queue that keeps events while nobody listens, with that
 * queue's retry delays and dead letters.
 */
export function subscribeToEvents<E extends EventDescriptor<any>>(
  bus: Bus,
  events: readonly E[],
  handler: (event: PublishedEvent<PayloadOf<E>>, routingKey: string) => Promise<void> | void,
  durable?: { queue: string; retryDelays: RetryDelay[]; prefetch?: number },
): Promise<Consumer> {
  return bus.subscribeEvents(
    events.map((e) => e.pattern),
    (event, routingKey) => handler(event as PublishedEvent<PayloadOf<E>>, routingKey),
    durable && {
      queue: durable.queue,
      prefetch: durable.prefetch,
      retryDelaysMs: durable.retryDelays.map((delay) => RETRY_DELAYS[delay]),
    },
  );
}
