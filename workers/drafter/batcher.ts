// Group commit for deliveries: the ones of one key (an organisation) that arrive while its previous batch runs
// are handled together in the next one, so a burst costs one transaction per batch, not one per delivery.

/** Each item's result, an error to fail it with, or a promise of either that outlives the batch. */
export type BatchHandler<T, R> = (key: string, items: T[]) => Promise<Array<R | Error | Promise<R>>>;

export function createBatcher<T, R>(
  handle: BatchHandler<T, R>,
  maxBatch: number,
): (key: string, item: T) => Promise<R> {
  interface Waiting {
    item: T;
    resolve: (result: R | Promise<R>) => void;
    reject: (error: Error) => void;
  }
  const pending = new Map<string, Waiting[]>();
  const running = new Set<string>();

  const flush = async (key: string) => {
    const queue = pending.get(key);
    if (running.has(key) || !queue || queue.length === 0) return;
    const batch = queue.splice(0, maxBatch);
    if (queue.length === 0) pending.delete(key);
    running.add(key);
    try {
      const results = await handle(
        key,
        batch.map((w) => w.item),
      );
      batch.forEach((w, i) => {
        const result = results[i];
        if (result instanceof Error) w.reject(result);
        else w.resolve(result as R | Promise<R>);
      });
    } catch (error) {
      for (const w of batch) w.reject(error as Error);
    } finally {
      running.delete(key);
      void flush(key);
    }
  };

  return (key, item) =>
    new Promise<R>((resolve, reject) => {
      const queue = pending.get(key) ?? [];
      queue.push({ item, resolve, reject });
      pending.set(key, queue);
      // deliveries of the same tick join the first one's batch
      if (queue.length === 1) setImmediate(() => void flush(key));
    });
}
