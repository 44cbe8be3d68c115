// One contract, two implementations: whatever a worker sees on RabbitMQ it must see on the in-process bus.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Connection } from 'rabbitmq-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CreateBusOptions, createBus } from './index.ts';
import { eventsExchangeName, queueNames } from './topology.ts';
import { type Bus, type BusLogger, type DeliveryInfo, type DomainEvent, PermanentError } from './types.ts';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const RETRY_DELAYS_MS = [50, 100];
const SEND_DELAY_MS = 300;

interface LogLine {
  level: 'warn' | 'error';
  obj: object;
  msg?: string;
}

function recordingLogger(lines: LogLine[]): BusLogger {
  return {
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for condition');
    await sleep(10);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Absences are proven by a later message, never by a pause: a marker sent after the message under test
 * fails until its last retry, so it passes through every retry queue after anything scheduled there
 * before it. Once the marker arrives, a retry or duplicate of the earlier message would have arrived too.
 */
function marker(retries = RETRY_DELAYS_MS.length) {
  const arrived = deferred();
  return {
    message: { marker: true },
    arrived: arrived.promise,
    /** True when the handler was given the marker (and should do nothing else with it). */
    take(message: unknown, info: DeliveryInfo): boolean {
      if ((message as { marker?: boolean }).marker !== true) return false;
      if (info.attempt <= retries) throw new Error('the marker walks the retry queues');
      arrived.resolve();
      return true;
    },
  };
}

function event(type: string, extra: Record<string, unknown> = {}): DomainEvent {
  return { type, organisationId: 'org-1', at: new Date().toISOString(), ...extra };
}

/** Deletes every queue and the exchange a test prefix may have created on the broker. */
async function deleteBrokerTopology(prefix: string, queues: Iterable<string>): Promise<void> {
  const conn = new Connection(AMQP_URL);
  try {
    for (const queue of queues) {
      const names = queueNames(prefix, queue);
      const all = [names.work, names.dead, ...[...RETRY_DELAYS_MS, 1000, 10_000, 60_000].map(names.retry)];
      for (const name of [...all, names.delay(SEND_DELAY_MS)]) await conn.queueDelete({ queue: name });
    }
    await conn.exchangeDelete({ exchange: eventsExchangeName(prefix) });
  } finally {
    await conn.close();
  }
}

const implementations: Array<{ kind: Bus['kind']; amqpUrl?: string }> = [
  { kind: 'memory' },
  { kind: 'rabbitmq', amqpUrl: AMQP_URL },
];

describe.each(implementations)('bus contract ($kind)', ({ kind, amqpUrl }) => {
  let prefix: string;
  let logs: LogLine[];
  let bus: Bus;
  const extraBuses: Bus[] = [];
  // Every queue a test touches, so the broker is left as we found it.
  const used = new Set<string>();

  const open = (overrides: Partial<CreateBusOptions> = {}) =>
    createBus({ amqpUrl, prefix, logger: recordingLogger(logs), ...overrides });
  const q = (name: string) => {
    used.add(name);
    return name;
  };

  beforeEach(async () => {
    prefix = `test-${randomBytes(4).toString('hex')}.`;
    logs = [];
    used.clear();
    bus = await open();
  });

  afterEach(async () => {
    for (const name of used) await bus.purge(name);
    await bus.close();
    await Promise.all(extraBuses.splice(0).map((b) => b.close()));
    if (kind === 'rabbitmq') await deleteBrokerTopology(prefix, used);
  });

  it('picks the implementation from the configuration', () => {
    expect(bus.kind).toBe(kind);
  });

  it('round-trips a message sent before anyone consumes, payload intact', async () => {
    const queue = q('round-trip');
    const message = {
      organisationId: 'org-1',
      taskId: 'task-1',
      nested: { list: [1, 'two', null], flag: true },
    };
    await bus.send(queue, message, { messageId: 'msg-1' });

    const received: Array<{ message: unknown; info: DeliveryInfo }> = [];
    await bus.consume(queue, async (m, info) => {
      received.push({ message: m, info });
    });
    await waitFor(() => received.length === 1);

    expect(received).toEqual([
      { message, info: { attempt: 1, queue, messageId: 'msg-1', redelivered: false } },
    ]);
  });

  it('retries a failing handler after each delay and passes the attempt number', async () => {
    const queue = q('flaky');
    const calls: Array<{ attempt: number; at: number }> = [];
    const mark = marker();
    await bus.consume(
      queue,
      async (m, info) => {
        if (mark.take(m, info)) return;
        calls.push({ attempt: info.attempt, at: performance.now() });
        if (info.attempt < 3) throw new Error('transient');
      },
      { retryDelaysMs: RETRY_DELAYS_MS },
    );
    await bus.send(queue, { taskId: 'task-2' });
    await waitFor(() => calls.length === 3);
    await bus.send(queue, mark.message);
    await mark.arrived; // a fourth call would have come first

    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(RETRY_DELAYS_MS[0]);
    expect(calls[2].at - calls[1].at).toBeGreaterThanOrEqual(RETRY_DELAYS_MS[1]);
    expect(await bus.deadLetters(queue)).toEqual([]);
  });

  it('dead-letters a message after 1 + retries failed attempts', async () => {
    const queue = q('always-fails');
    const attempts: number[] = [];
    const mark = marker();
    await bus.consume(
      queue,
      async (m, info) => {
        if (mark.take(m, info)) return;
        attempts.push(info.attempt);
        throw new Error('still broken');
      },
      { retryDelaysMs: RETRY_DELAYS_MS },
    );
    await bus.send(queue, { organisationId: 'org-1', taskId: 'task-3' });
    await waitFor(async () => (await bus.deadLetters(queue)).length === 1);
    await bus.send(queue, mark.message);
    await mark.arrived;

    expect(attempts).toEqual([1, 2, 3]);
    expect(await bus.deadLetters(queue)).toEqual([{ organisationId: 'org-1', taskId: 'task-3' }]);
  });

  it('sends a PermanentError straight to the dead letters after one call', async () => {
    const queue = q('permanent');
    let calls = 0;
    const mark = marker();
    await bus.consume(
      queue,
      async (m, info) => {
        if (mark.take(m, info)) return;
        calls++;
        throw new PermanentError('recipient unsubscribed');
      },
      { retryDelaysMs: RETRY_DELAYS_MS },
    );
    await bus.send(queue, { taskId: 'task-4' });
    await waitFor(async () => (await bus.deadLetters(queue)).length === 1);
    await bus.send(queue, mark.message);
    await mark.arrived;

    expect(calls).toBe(1);
    expect(await bus.deadLetters(queue)).toEqual([{ taskId: 'task-4' }]);
  });

  it('logs ids and the error, never the rest of the body', async () => {
    const queue = q('logged');
    await bus.consume(queue, async () => {
      throw new PermanentError('bounced');
    });
    await bus.send(queue, { organisationId: 'org-7', taskId: 'task-7', email: 'secret@example.com' });
    await waitFor(() => logs.some((l) => l.level === 'error'));

    const line = logs.find((l) => l.level === 'error')!;
    expect(line.obj).toMatchObject({ queue, organisationId: 'org-7', taskId: 'task-7', reason: 'permanent' });
    expect(JSON.stringify(line.obj)).not.toContain('secret@example.com');
  });

  it('never runs more handlers at once than the prefetch', async () => {
    const queue = q('prefetch');
    let running = 0;
    let maxRunning = 0;
    let done = 0;
    await bus.consume(
      queue,
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(40);
        running--;
        done++;
      },
      { prefetch: 2 },
    );
    await bus.sendMany(
      queue,
      Array.from({ length: 8 }, (_, i) => ({ taskId: `task-${i}` })),
    );
    await waitFor(() => done === 8);

    expect(maxRunning).toBe(2);
  });

  it('holds a delayed message back until its delay has passed', async () => {
    const queue = q('delayed');
    const arrivals: Array<{ taskId: unknown; at: number }> = [];
    await bus.consume(queue, async (m) => {
      arrivals.push({ taskId: m.taskId, at: performance.now() });
    });
    const sentAt = performance.now();
    await bus.send(queue, { taskId: 'later' }, { delayMs: SEND_DELAY_MS });
    await bus.send(queue, { taskId: 'now' });
    await waitFor(() => arrivals.length === 2);

    expect(arrivals.map((a) => a.taskId)).toEqual(['now', 'later']);
    expect(arrivals[1].at - sentAt).toBeGreaterThanOrEqual(SEND_DELAY_MS);
  });

  it('delivers each of 1,000 messages from sendMany exactly once', async () => {
    const queue = q('bulk');
    const seen = new Map<number, number>();
    const mark = marker(0);
    await bus.consume(
      queue,
      async (m: { index: number }, info) => {
        if (mark.take(m, info)) return;
        seen.set(m.index, (seen.get(m.index) ?? 0) + 1);
      },
      { prefetch: 50 },
    );
    await bus.sendMany(
      queue,
      Array.from({ length: 1000 }, (_, index) => ({ index })),
    );
    await waitFor(() => seen.size === 1000);
    await bus.send(queue, mark.message);
    await mark.arrived; // duplicates queued before it would have come first

    expect(seen.size).toBe(1000);
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('sends one message to several queues in one call: one copy each, same id, and a retry stays in its queue', async () => {
    const [raw, counters] = [q('copies.raw'), q('copies.counters')];
    const message = { organisationId: 'org-1', hits: [{ id: 'h1' }, { id: 'h2' }] };
    await bus.sendToQueues([raw, counters], message, { messageId: 'batch-1' });

    const got: Record<string, Array<{ message: unknown; info: DeliveryInfo }>> = { raw: [], counters: [] };
    let failOnce = true;
    await bus.consume(
      raw,
      async (m, info) => {
        got.raw!.push({ message: m, info });
        if (failOnce) {
          failOnce = false;
          throw new Error('store unavailable');
        }
      },
      { retryDelaysMs: RETRY_DELAYS_MS },
    );
    await bus.consume(counters, async (m, info) => void got.counters!.push({ message: m, info }));
    await waitFor(() => got.raw!.length === 2 && got.counters!.length === 1);
    // the retry of the raw copy must not come back to the counters' queue as well
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(got.counters).toEqual([
      { message, info: { attempt: 1, queue: counters, messageId: 'batch-1', redelivered: false } },
    ]);
    expect(got.raw!.map((r) => [r.message, r.info.attempt, r.info.messageId])).toEqual([
      [message, 1, 'batch-1'],
      [message, 2, 'batch-1'],
    ]);
    await expect(bus.sendToQueues([], message)).rejects.toThrow(/at least one queue/);
  });

  it('purges waiting, delayed and dead messages', async () => {
    const queue = q('purged');
    await bus.send(queue, { taskId: 'waiting' });
    await bus.send(queue, { taskId: 'delayed' }, { delayMs: SEND_DELAY_MS });
    const failing = await bus.consume(queue, async () => {
      throw new PermanentError('no');
    });
    await waitFor(async () => (await bus.deadLetters(queue)).length === 1);
    await failing.close();
    await bus.send(queue, { taskId: 'queued after close' });

    await bus.purge(queue);
    const received: unknown[] = [];
    const mark = marker(0);
    await bus.consume(queue, async (m, info) => {
      if (mark.take(m, info)) return;
      received.push(m);
    });
    // through the same delay as the purged delayed message, so it arrives after it had that survived
    await bus.send(queue, mark.message, { delayMs: SEND_DELAY_MS });
    await mark.arrived;

    expect(received).toEqual([]);
    expect(await bus.deadLetters(queue)).toEqual([]);
  });

  it('lets close() wait for the handler in flight, which then completes', async () => {
    const queue = q('graceful');
    const started = deferred();
    let finished = 0;
    const consumer = await bus.consume(queue, async () => {
      started.resolve();
      await sleep(100);
      finished++;
    });
    await bus.send(queue, { taskId: 'task-8' });
    await started.promise;
    await consumer.close();

    expect(finished).toBe(1);
    expect(await bus.deadLetters(queue)).toEqual([]);
  });

  it('gives every subscriber its own copy of an event', async () => {
    const first: Array<[DomainEvent, string]> = [];
    const second: Array<[DomainEvent, string]> = [];
    await bus.subscribeEvents(['campaign.*.activity'], (e, key) => {
      first.push([e, key]);
    });
    await bus.subscribeEvents(['campaign.*.activity'], async (e, key) => {
      second.push([e, key]);
    });
    const sent = event('email.opened', { campaignId: 'abc', contactId: 'c-1' });
    await bus.publishEvent('campaign.abc.activity', sent);
    await waitFor(() => first.length === 1 && second.length === 1);

    expect(first).toEqual([[sent, 'campaign.abc.activity']]);
    expect(second).toEqual([[sent, 'campaign.abc.activity']]);
  });

  it('routes events by topic pattern: * is one word, # any number', async () => {
    const oneWord: string[] = [];
    const anyWords: string[] = [];
    await bus.subscribeEvents(['campaign.*.activity'], (_e, key) => {
      oneWord.push(key);
    });
    await bus.subscribeEvents(['campaign.#'], (_e, key) => {
      anyWords.push(key);
    });
    for (const key of [
      'campaign.abc.stats',
      'campaign.abc.x.activity',
      'contact.abc.activity',
      'campaign.abc.activity',
    ]) {
      await bus.publishEvent(key, event('probe'));
    }
    // The last key matches both; anything routed before it would have arrived first.
    await waitFor(
      () => oneWord.includes('campaign.abc.activity') && anyWords.includes('campaign.abc.activity'),
    );

    expect(oneWord).toEqual(['campaign.abc.activity']);
    expect(anyWords).toEqual(['campaign.abc.stats', 'campaign.abc.x.activity', 'campaign.abc.activity']);
  });

  it('stops delivering events to a closed subscription', async () => {
    const kept: string[] = [];
    const dropped: string[] = [];
    await bus.subscribeEvents(['campaign.#'], (e) => {
      kept.push(e.type);
    });
    const closing = await bus.subscribeEvents(['campaign.#'], (e) => {
      dropped.push(e.type);
    });
    await closing.close();
    // Every event reaches every bound queue at once; a closed subscription still bound would have been
    // handed some of these by the time the open one has handled them all.
    for (let i = 0; i < 20; i++) await bus.publishEvent('campaign.abc.activity', event(`after-close-${i}`));
    await waitFor(() => kept.length === 20);

    expect(dropped).toEqual([]);
  });

  it('keeps events for a durable subscription while nobody listens; its subscribers share them', async () => {
    const queue = q('durable-events');
    const away = await bus.subscribeEvents(['campaign.*.SENT'], () => {}, { queue });
    await away.close();
    const sent = [1, 2, 3].map((n) => event('SENT', { n }));
    for (const e of sent) await bus.publishEvent('campaign.abc.SENT', e, { messageId: `sent-${e.n}` });
    await bus.publishEvent('campaign.abc.DRAFTED', event('DRAFTED'));

    const received: Array<[unknown, string, string]> = [];
    const subscriber = (who: string) => (e: DomainEvent, key: string) => {
      received.push([e.n, key, who]);
    };
    await bus.subscribeEvents(['campaign.*.SENT'], subscriber('a'), { queue });
    await bus.subscribeEvents(['campaign.*.SENT'], subscriber('b'), { queue });
    // published last: anything else (a duplicate included) was queued before it and delivered first
    await bus.publishEvent('campaign.xyz.SENT', event('SENT', { n: 4 }));
    await waitFor(() => received.some(([n]) => n === 4));

    expect(received.map(([n, key]) => [n, key]).sort()).toEqual([
      [1, 'campaign.abc.SENT'],
      [2, 'campaign.abc.SENT'],
      [3, 'campaign.abc.SENT'],
      [4, 'campaign.xyz.SENT'],
    ]);
  });

  it('retries a failing durable subscriber with the routing key intact, then dead-letters the event', async () => {
    const queue = q('durable-failing');
    const calls: string[] = [];
    const poison = event('SENT', { messageId: 'm-1' });
    await bus.subscribeEvents(
      ['campaign.*.SENT'],
      (e, key) => {
        calls.push(key);
        throw new Error(`cannot count ${e.messageId}`);
      },
      { queue, retryDelaysMs: RETRY_DELAYS_MS },
    );
    await bus.publishEvent('campaign.abc.SENT', poison);
    await waitFor(async () => (await bus.deadLetters(queue)).length === 1);

    expect(calls).toEqual(['campaign.abc.SENT', 'campaign.abc.SENT', 'campaign.abc.SENT']);
    expect(await bus.deadLetters(queue)).toEqual([poison]);
  });

  it('rejects arguments the broker could not honour', async () => {
    await expect(bus.send('q', [] as never)).rejects.toThrow(/plain object/);
    await expect(bus.send('q', {}, { delayMs: -1 })).rejects.toThrow(/delayMs/);
    await expect(bus.consume('q', async () => {}, { prefetch: 0 })).rejects.toThrow(/prefetch/);
    await expect(bus.publishEvent('campaign.*', event('x'))).rejects.toThrow(/routing key/);
    await expect(bus.publishEvent('campaign.abc', { type: 'x' } as DomainEvent)).rejects.toThrow(
      /organisationId/,
    );
    await expect(bus.subscribeEvents([], () => {})).rejects.toThrow(/pattern/);
    await expect(bus.subscribeEvents(['campaign.#'], () => {}, { queue: '' })).rejects.toThrow(/queue/);
  });

  it.runIf(kind === 'rabbitmq')(
    'redelivers a message whose consumer died before acking, to the next consumer',
    async () => {
      const queue = q('crash');
      // A worker that stops without finishing its handler: close() gives up after 50 ms and drops the connection.
      const crashing = await open({ shutdownTimeoutMs: 50 });
      extraBuses.push(crashing);
      const started = deferred<DeliveryInfo>();
      const stuck = deferred();
      // prefetch 1: while stuck it takes nothing more, so later messages can only go to the survivor
      await crashing.consume(
        queue,
        async (_m, info) => {
          started.resolve(info);
          await stuck.promise;
        },
        { prefetch: 1 },
      );
      await bus.send(queue, { taskId: 'task-9' }, { messageId: 'msg-9' });
      const first = await started.promise;
      expect(first.redelivered).toBe(false);

      // Subscribed while the message sits unacked with the crashing worker, so only a redelivery can reach it.
      const survivor: Array<{ message: unknown; info: DeliveryInfo }> = [];
      const before = marker(0);
      const after = marker(0);
      let markers = 0;
      await bus.consume(queue, async (message, info) => {
        const mark = markers === 0 ? before : after;
        if (mark.take(message, info)) {
          markers++;
          return;
        }
        survivor.push({ message, info });
      });
      // the queue is FIFO: had the unacked message come back, it would reach the survivor before this marker
      await bus.send(queue, before.message);
      await before.arrived;
      expect(survivor).toEqual([]);
      await crashing.close();
      await waitFor(() => survivor.length === 1);
      stuck.resolve();
      await bus.send(queue, after.message);
      await after.arrived;

      expect(survivor).toEqual([
        { message: { taskId: 'task-9' }, info: { attempt: 1, queue, messageId: 'msg-9', redelivered: true } },
      ]);
      expect(await bus.deadLetters(queue)).toEqual([]);
    },
  );
});
