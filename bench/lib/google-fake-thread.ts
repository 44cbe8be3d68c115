// The Google fake (OAuth token endpoint and Gmail API) on a thread of its own, for benchmarks: Gmail is another
// machine, and a fake sharing the event loop of what is measured would take its CPU from it (in the `npm start`
// run, every worker shares this process's main thread). The sent log is read across the thread by position.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { startGoogleFake } from '../../test/fakes/google.ts';

/** One message the fake accepted with the SENT label: the headers the benchmarks check. */
export interface SentHeaders {
  to: string | undefined;
  messageId: string | undefined;
}

export interface GoogleFakeThread {
  gmailUrl: string;
  tokenUrl: string;
  /** Sent messages from position `from` of the fake's log on, and the log's length to ask from next. */
  sentSince(from: number): Promise<{ sent: SentHeaders[]; next: number }>;
  close(): Promise<void>;
}

type Request = { id: number; from: number } | { id: number; close: true };
type Reply = { id: number; sent: SentHeaders[]; next: number } | { id: number; closed: true };

export async function startGoogleFakeThread(options: { dir: string }): Promise<GoogleFakeThread> {
  // the thread loads this file as TypeScript, as the process does (module hooks do not reach threads by themselves)
  const worker = new Worker(
    `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`,
    { eval: true, workerData: { dir: options.dir } },
  );
  const ready = await new Promise<{ gmailUrl: string; tokenUrl: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  let nextId = 0;
  const waiting = new Map<number, (reply: Reply) => void>();
  worker.on('message', (reply: Reply) => {
    waiting.get(reply.id)?.(reply);
    waiting.delete(reply.id);
  });
  const ask = (request: Omit<Request, 'id'>) =>
    new Promise<Reply>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      worker.postMessage({ ...request, id });
    });
  return {
    ...ready,
    async sentSince(from) {
      const reply = await ask({ from });
      return 'sent' in reply ? { sent: reply.sent, next: reply.next } : { sent: [], next: from };
    },
    async close() {
      await ask({ close: true });
      await worker.terminate();
    },
  };
}

// ----- the thread -----
if (!isMainThread && parentPort) {
  const port = parentPort;
  const fake = await startGoogleFake({ dir: (workerData as { dir: string }).dir, delegatedDomains: [] });
  port.on('message', async (request: Request) => {
    if ('close' in request) {
      await fake.close();
      port.postMessage({ id: request.id, closed: true } satisfies Reply);
      return;
    }
    const all = fake.gmail.messages;
    const sent: SentHeaders[] = [];
    for (let i = request.from; i < all.length; i++) {
      const m = all[i]!;
      if (m.labelIds.includes('SENT'))
        sent.push({ to: m.headers.get('to'), messageId: m.headers.get('message-id') });
    }
    port.postMessage({ id: request.id, sent, next: all.length } satisfies Reply);
  });
  port.postMessage({ gmailUrl: fake.gmailUrl, tokenUrl: fake.tokenUrl });
}
