// Sends in flight: at most `total` in this process and `perKey` per mailbox, so one mailbox's backlog neither
// takes every slot nor sends faster than one connection of a mail client would. Waiters start in arrival order
// as soon as both their limits allow.
export interface SendSlots {
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
}

export function createSendSlots(total: number, perKey: number): SendSlots {
  let used = 0;
  const usedBy = new Map<string, number>();
  const waiting: { key: string; start: () => void }[] = [];

  const startWaiting = () => {
    for (let i = 0; i < waiting.length && used < total; i++) {
      const w = waiting[i]!;
      if ((usedBy.get(w.key) ?? 0) >= perKey) continue;
      waiting.splice(i--, 1);
      used++;
      usedBy.set(w.key, (usedBy.get(w.key) ?? 0) + 1);
      w.start();
    }
  };

  return {
    async run(key, work) {
      await new Promise<void>((start) => {
        waiting.push({ key, start });
        startWaiting();
      });
      try {
        return await work();
      } finally {
        used--;
        const left = (usedBy.get(key) ?? 1) - 1;
        if (left === 0) usedBy.delete(key);
        else usedBy.set(key, left);
        startWaiting();
      }
    },
  };
}
