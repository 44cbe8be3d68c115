import { describe, expect, it } from 'vitest';
import { createSendSlots } from './slots.ts';

describe('createSendSlots', () => {
  it('keeps sends in flight within the process limit and each mailbox’s own', async () => {
    const slots = createSendSlots(3, 2);
    const inFlight = new Map<string, number>();
    let total = 0;
    let most = 0;
    const mostBy = new Map<string, number>();
    const releases: Array<() => void> = [];
    const runs = ['a', 'a', 'a', 'a', 'b', 'b', 'c'].map((key) =>
      slots.run(key, async () => {
        total++;
        inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
        most = Math.max(most, total);
        mostBy.set(key, Math.max(mostBy.get(key) ?? 0, inFlight.get(key)!));
        await new Promise<void>((resolve) => releases.push(resolve));
        total--;
        inFlight.set(key, inFlight.get(key)! - 1);
        return key;
      }),
    );
    // let everything that may start start, then finish one at a time
    for (let done = 0; done < runs.length; done++) {
      await new Promise((resolve) => setImmediate(resolve));
      releases.shift()?.();
    }
    expect(await Promise.all(runs)).toEqual(['a', 'a', 'a', 'a', 'b', 'b', 'c']);
    expect(most).toBe(3);
    expect(mostBy.get('a')).toBe(2);
  });

  it('frees the slot of a send that failed', async () => {
    const slots = createSendSlots(1, 1);
    await expect(slots.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await slots.run('a', async () => 'next')).toBe('next');
  });
});
