import { describe, expect, it } from 'vitest';
import { createFairLimiter } from './limiter.ts';

/** A piece of work that finishes when told to, recording who started when. */
function gate(log: string[], name: string) {
  let open!: () => void;
  const done = new Promise<void>((resolve) => {
    open = resolve;
  });
  return {
    work: async () => {
      log.push(name);
      await done;
      return name;
    },
    open,
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('fair limiter', () => {
  it('holds an organisation to its own slots and the process to its total', async () => {
    const limiter = createFairLimiter({ perOrganisation: 2, total: 3 });
    const started: string[] = [];
    const a = ['a1', 'a2', 'a3'].map((n) => gate(started, n));
    const b = ['b1', 'b2'].map((n) => gate(started, n));
    const results = [...a.map((g) => limiter.run('A', g.work)), ...b.map((g) => limiter.run('B', g.work))];
    await tick();
    // A takes two slots, B the third; a3 and b2 wait
    expect(started).toEqual(['a1', 'a2', 'b1']);
    expect(limiter.waiting('A')).toBe(1);
    expect(limiter.waiting('B')).toBe(1);
    a[0].open();
    await tick();
    // the freed slot is A's to use again: B is already at the process total's share it could get
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3']);
    b[0].open();
    await tick();
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3', 'b2']);
    for (const g of [...a, ...b]) g.open();
    expect(await Promise.all(results)).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    expect(limiter.waiting('A')).toBe(0);
  });

  it('gives freed slots to organisations in turn, not to the one with the longest queue', async () => {
    const limiter = createFairLimiter({ perOrganisation: 10, total: 1 });
    const started: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    const runs: Promise<string>[] = [];
    const enqueue = (org: string, name: string) => {
      const g = gate(started, name);
      gates.set(name, g);
      runs.push(limiter.run(org, g.work));
    };
    for (let i = 1; i <= 4; i++) enqueue('big', `big${i}`);
    enqueue('small', 'small1');
    enqueue('other', 'other1');
    for (let i = 0; i < 6; i++) {
      await tick();
      gates.get(started.at(-1)!)!.open();
    }
    await Promise.all(runs);
    expect(started).toEqual(['big1', 'small1', 'other1', 'big2', 'big3', 'big4']);
  });

  it('frees the slot of work that fails', async () => {
    const limiter = createFairLimiter({ perOrganisation: 1, total: 1 });
    await expect(limiter.run('A', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await limiter.run('A', async () => 'next')).toBe('next');
  });
});
