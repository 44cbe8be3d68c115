// Queues and events are declared once with their payload type; what travels is ids and a message id.
import { describe, expect, it } from 'vitest';
import { EVENTS, QUEUES, TASK_QUEUES } from './catalog.ts';
import {
  consumeWork,
  defineEvent,
  defineQueue,
  RETRY_DELAYS,
  type RetryDelay,
  sendWork,
} from './descriptors.ts';
import { MemoryBus } from './memory-bus.ts';

const silent = { warn: () => {}, error: () => {} };

describe('queue and event descriptors', () => {
  it('take retry delays from the fixed set only', () => {
    const queue = defineQueue<{ organisationId: string; taskId: string }>({
      name: 'test.fixed',
      retryDelays: ['5s', '2m', '1h'],
    });
    expect(queue.retryDelaysMs).toEqual([5_000, 120_000, 3_600_000]);
    expect(() => defineQueue({ name: 'test.odd', retryDelays: ['7s' as RetryDelay] })).toThrow(
      /retry delay "7s" is not one of 5s, 30s, 2m, 10m, 1h/,
    );
    expect(() => defineQueue({ name: 'Not A Name', retryDelays: [] })).toThrow(/queue name/);
    expect(() => defineEvent({ name: 'drafted' })).toThrow(/UPPER_SNAKE_CASE/);
  });

  it('are declared once each in the catalog, with delays from the set', () => {
    const names = [...QUEUES.map((q) => q.name), ...EVENTS.map((e) => e.name)];
    expect(new Set(names).size).toBe(names.length);
    const allowed = new Set<number>(Object.values(RETRY_DELAYS));
    for (const queue of QUEUES) expect(queue.retryDelaysMs.every((ms) => allowed.has(ms))).toBe(true);
    expect(EVENTS.map((e) => e.name)).toEqual([
      'DRAFTED',
      'APPROVAL_NEEDED',
      'FAILED',
      'ENROLLMENT_CHANGED',
      'SENT',
      'REPLIED',
      'BOUNCED',
      'UNSUBSCRIBED',
      'MAILBOX_NEEDS_RECONNECT',
      'OPENED',
      'CLICKED',
      'STATS_CHANGED',
    ]);
    expect(Object.values(TASK_QUEUES).every((q) => QUEUES.includes(q))).toBe(true);
    expect(EVENTS[0].routingKey('c-1')).toBe('campaign.c-1.DRAFTED');
    expect(EVENTS[0].pattern).toBe('campaign.*.DRAFTED');
  });

  it('send ids only with a message id, and consume with the declared retries', async () => {
    const bus = new MemoryBus({ logger: silent });
    const queue = defineQueue<{ organisationId: string; taskId: string }>({
      name: 'test.ids',
      retryDelays: [],
    });
    const received: Array<{ payload: unknown; messageId: string }> = [];
    await consumeWork(bus, queue, async (payload, info) => {
      received.push({ payload, messageId: info.messageId });
    });
    await sendWork(bus, queue, { organisationId: 'o-1', taskId: 't-1' }, { messageId: 'draft:t-1' });
    await expect(
      sendWork(bus, queue, { organisationId: 'o-1', taskId: 't-2', body: 'Hi Ann' } as never, {
        messageId: 'x',
      }),
    ).rejects.toThrow(/ids only: "body"/);
    await expect(
      sendWork(bus, queue, { organisationId: 'o-1', taskId: 't-3' }, { messageId: '' }),
    ).rejects.toThrow(/message id/);
    // a body that is not ids (sent around the descriptor) is refused at once: straight to the dead letters
    await bus.send('test.ids', { organisationId: 'o-1', taskId: 4 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await bus.close();

    expect(received).toEqual([{ payload: { organisationId: 'o-1', taskId: 't-1' }, messageId: 'draft:t-1' }]);
    expect(await bus.deadLetters('test.ids')).toEqual([{ organisationId: 'o-1', taskId: 4 }]);
  });

  it('carry instants besides ids, as ISO-8601 UTC only', async () => {
    const bus = new MemoryBus({ logger: silent });
    const queue = defineQueue<{ messageId: string; sentAt: string }>({
      name: 'test.instants',
      retryDelays: [],
    });
    const send = (sentAt: string) => sendWork(bus, queue, { messageId: 'm-1', sentAt }, { messageId: 'x' });
    await expect(send('2026-11-02T14:00:00.123Z')).resolves.toBeUndefined();
    await expect(send('yesterday')).rejects.toThrow(/"sentAt" must be an ISO-8601 UTC instant/);
    await expect(send('2026-11-02T15:00:00+01:00')).rejects.toThrow(/ISO-8601 UTC/);
    await bus.close();
  });
});
