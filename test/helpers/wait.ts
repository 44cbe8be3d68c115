// Waiting for what a service does within a bounded time, by polling for the positive signal.

// the default AUTH_CACHE_SECONDS, plus room for a slow machine
export const CACHE_MS = 5000 + 3000;

/** Polls until check() holds, failing after withinMs; resolves to the time it took. */
export async function eventually(check: () => Promise<boolean>, withinMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > withinMs) throw new Error(`still not true after ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A promise and the function that settles it, for a test that holds one side of a race open. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}
