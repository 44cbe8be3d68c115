// Rules both implementations share: defaults, retry decisions, argument checks, what may be logged.
import {
  BusError,
  type BusLogger,
  type ConsumeOptions,
  type DomainEvent,
  type WorkMessage,
} from './types.ts';

export const DEFAULT_PREFETCH = 10;
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [1000, 10_000, 60_000];
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
// setTimeout's ceiling (x-message-ttl allows 2^32-1): longer waits belong in the database, not the bus.
export const MAX_DELAY_MS = 2 ** 31 - 1;
const MAX_PREFETCH = 65_535;
const MAX_ERROR_TEXT = 1000;

export interface ResolvedConsumeOptions {
  prefetch: number;
  retryDelaysMs: readonly number[];
}

export function resolveConsumeOptions(options: ConsumeOptions | undefined): ResolvedConsumeOptions {
  const prefetch = options?.prefetch ?? DEFAULT_PREFETCH;
  if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > MAX_PREFETCH) {
    throw new BusError(`prefetch must be an integer in [1, ${MAX_PREFETCH}]`);
  }
  const retryDelaysMs = [...(options?.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS)];
  for (const ms of retryDelaysMs) assertDelay(ms, 'retryDelaysMs');
  return { prefetch, retryDelaysMs };
}

export type FailureOutcome =
  | { kind: 'retry'; delayMs: number; nextAttempt: number }
  | { kind: 'dead'; reason: 'permanent' | 'exhausted' | 'malformed' };

/** What happens to a message whose handler threw on delivery `attempt`. */
export function failureOutcome(
  err: unknown,
  attempt: number,
  retryDelaysMs: readonly number[],
): FailureOutcome {
  if (isPermanent(err)) return { kind: 'dead', reason: 'permanent' };
  const delayMs = retryDelaysMs[attempt - 1];
  if (delayMs === undefined) return { kind: 'dead', reason: 'exhausted' };
  return { kind: 'retry', delayMs, nextAttempt: attempt + 1 };
}

function isPermanent(err: unknown): boolean {
  // The name check survives a second copy of this module (bundlers, test runners).
  return err instanceof Error && err.name === 'PermanentError';
}

/** Attempt number carried in the `x-attempt` header; a first delivery has none. */
export function attemptOf(header: unknown): number {
  const n = typeof header === 'bigint' ? Number(header) : header;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : 1;
}

export function isWorkMessage(value: unknown): value is WorkMessage {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

export function assertQueueName(queue: unknown): asserts queue is string {
  if (typeof queue !== 'string' || queue.length === 0 || queue.length > 200) {
    throw new BusError('queue must be a non-empty string of at most 200 characters');
  }
}

/** One message for several queues: at least one queue, each named properly, and a plain object. */
export function assertCopies(queues: readonly unknown[], message: unknown): asserts message is WorkMessage {
  if (queues.length === 0) throw new BusError('sendToQueues needs at least one queue');
  for (const queue of queues) assertQueueName(queue);
  assertWorkMessage(message);
}

export function assertWorkMessage(message: unknown): asserts message is WorkMessage {
  if (!isWorkMessage(message)) throw new BusError('a work message must be a plain object of ids');
}

export function assertDelay(ms: unknown, what = 'delayMs'): asserts ms is number {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > MAX_DELAY_MS) {
    throw new BusError(`${what} must be an integer in [0, ${MAX_DELAY_MS}]`);
  }
}

export function assertEvent(routingKey: unknown, event: unknown): asserts event is DomainEvent {
  if (typeof routingKey !== 'string' || routingKey.length === 0 || /[*#]/.test(routingKey)) {
    throw new BusError('an event routing key must be a non-empty string without * or #');
  }
  const e = event as Partial<DomainEvent> | null;
  if (
    !isWorkMessage(e) ||
    typeof e.type !== 'string' ||
    typeof e.organisationId !== 'string' ||
    typeof e.at !== 'string'
  ) {
    throw new BusError('an event needs string fields type, organisationId and at');
  }
}

export function assertPatterns(patterns: unknown): asserts patterns is string[] {
  if (
    !Array.isArray(patterns) ||
    patterns.length === 0 ||
    !patterns.every((p) => typeof p === 'string' && p)
  ) {
    throw new BusError('subscribeEvents needs at least one non-empty pattern');
  }
}

/** The id fields of a message (`organisationId`, `taskId`, ...): the only part of a body that may be logged. */
export function idsOf(message: unknown): Record<string, string | number> {
  const ids: Record<string, string | number> = {};
  if (!isWorkMessage(message)) return ids;
  for (const [key, value] of Object.entries(message)) {
    if (/(^id|Id)$/.test(key) && (typeof value === 'string' || typeof value === 'number')) ids[key] = value;
  }
  return ids;
}

export function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text;
}

export const consoleLogger: BusLogger = {
  warn: (obj, msg) => console.warn(msg ?? 'bus warning', obj),
  error: (obj, msg) => console.error(msg ?? 'bus error', obj),
};

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true if `work` settled (either way) within `ms`, false if the time ran out first (work keeps running). */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
