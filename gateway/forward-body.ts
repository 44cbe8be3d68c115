// POSTs a bulk body (a Pharow ingest) to a subgraph as it is: fetch would first copy the 13 MB into a body
// of its own. Used where the gateway hands an ingest's bytes on without reading them as GraphQL; the webhook's
// body goes on as it arrives.
import { Agent, type IncomingMessage, request } from 'node:http';
import { AppError, ErrorCode } from '../lib/errors.ts';
import { borrowBuffer, type PooledBody } from '../lib/http/body-pool.ts';
import { BODY_BYTES_HEADER, GO, WITHDRAWN } from '../lib/http/verdict-body.ts';

const agent = new Agent({ keepAlive: true });

export interface Answer {
  status: number;
  contentType: string | undefined;
  text: string;
}

/** The headers a bulk body goes to a subgraph with: JSON, the request id, and the caller's credentials. */
export function bulkHeaders(req: IncomingMessage, requestId: string): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId };
  for (const name of ['authorization', 'x-api-key']) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return headers;
}

/** Reads a subgraph's answer whole, whatever its status (subgraphs answer their errors as JSON too). */
function readAnswer(
  answer: IncomingMessage,
  resolve: (answer: Answer) => void,
  reject: (error: Error) => void,
): void {
  const chunks: Buffer[] = [];
  answer.on('data', (chunk: Buffer) => chunks.push(chunk));
  answer.on('end', () =>
    resolve({
      status: answer.statusCode ?? 502,
      contentType: answer.headers['content-type'],
      text: Buffer.concat(chunks).toString('utf8'),
    }),
  );
  answer.on('error', reject);
}

/** The subgraph's answer, whatever its status (subgraphs answer their errors as JSON too). */
export function postBody(target: URL, headers: Record<string, string>, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const upstream = request(target, { method: 'POST', headers, agent }, (answer) =>
      readAnswer(answer, resolve, reject),
    );
    upstream.on('error', reject);
    upstream.end(body);
  });
}

/**
 * POSTs a request's body to a subgraph as it arrives, so that the subgraph reads it while the client is still
 * sending it. Over `limitBytes` (declared, or counted as it comes) the upstream request is abandoned, before
 * its body ends, and the error is PAYLOAD_TOO_LARGE as when the body is read first.
 */
export function streamBody(
  req: IncomingMessage,
  target: URL,
  headers: Record<string, string>,
  limitBytes: number,
): Promise<Answer> {
  const tooLarge = () => new AppError(ErrorCode.PayloadTooLarge, `Request body exceeds ${limitBytes} bytes`);
  const declared = req.headers['content-length'];
  if (Number(declared) > limitBytes) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      upstream.destroy();
      reject(error);
    };
    const upstream = request(
      target,
      { method: 'POST', headers: declared ? { ...headers, 'content-length': declared } : headers, agent },
      (answer) => readAnswer(answer, resolve, fail),
    );
    upstream.on('error', fail);
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limitBytes) {
        // the rest is read and dropped, so that the client can be answered
        req.resume();
        fail(tooLarge());
        return;
      }
      if (!upstream.write(chunk)) {
        req.pause();
        upstream.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      if (!failed) upstream.end();
    });
    req.on('error', fail);
    req.on('aborted', () => fail(new Error('the client went away before the end of its body')));
  });
}

export interface CheckedForward {
  /** The client's body, read into a pooled buffer (while it went on, when it did). */
  body: Promise<PooledBody>;
  /** Whether the body went on to the subgraph (known once `body` has resolved). */
  forwarded(): boolean;
  /** Once the forwarded bytes have left this process (the subgraph has read all but the socket's buffers). */
  sent(): Promise<void>;
  /** The subgraph's answer, when the body went on (before a go-ahead, it writes nothing). */
  answer(): Promise<Answer>;
  /** Ends the forwarded request with the verdict: go ahead, or withdrawn. */
  decide(go: boolean): void;
}

/**
 * Reads a request's body (of a declared length) and, once its first bytes say it is worth it (`goesOn`:
 * undefined while they cannot tell yet; a promise holds the body until it settles), forwards it as it arrives,
 * keeping the copy to check, and ends it with a verdict byte (lib/http/verdict-body.ts): the subgraph prepares
 * the work while the gateway checks the body.
 */
export function forwardWhileChecking(
  req: IncomingMessage,
  target: URL,
  headers: Record<string, string>,
  bytes: number,
  goesOn: (prefix: Buffer) => boolean | Promise<boolean> | undefined,
): CheckedForward {
  const { buffer, release } = borrowBuffer(Math.max(bytes, 1));
  let upstream: ReturnType<typeof request> | undefined;
  let answer: Promise<Answer> | undefined;
  let failed: Error | undefined;
  let rejectBody: (error: Error) => void = () => undefined;
  const fail = (error: Error) => {
    if (failed) return;
    failed = error;
    upstream?.destroy(error);
    rejectBody(error);
  };
  const open = (size: number) => {
    answer = new Promise<Answer>((resolve, reject) => {
      upstream = request(
        target,
        {
          method: 'POST',
          headers: { ...headers, [BODY_BYTES_HEADER]: String(bytes), 'content-length': String(bytes + 1) },
          agent,
        },
        (res) => readAnswer(res, resolve, reject),
      );
      upstream.on('error', (error) => {
        reject(error);
        fail(error);
      });
    });
    // a withdrawn request's answer is not waited for
    answer.catch(() => undefined);
    write(buffer.subarray(0, size));
  };
  // the callback of the last write: its bytes have gone to the socket
  let lastWrite: Promise<void> = Promise.resolve();
  const write = (bytes: Buffer) => {
    let written = true;
    lastWrite = new Promise((resolve) => {
      written = upstream?.write(bytes, () => resolve()) ?? true;
    });
    return written;
  };
  let decided = false;
  const body = new Promise<PooledBody>((resolve, reject) => {
    rejectBody = reject;
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      if (size + chunk.length > bytes) {
        fail(new AppError(ErrorCode.BadUserInput, 'Request body is longer than its content-length'));
        return;
      }
      chunk.copy(buffer, size);
      size += chunk.length;
      if (!decided) {
        const go = goesOn(buffer.subarray(0, size));
        if (go === undefined) return;
        decided = true;
        if (go === true) open(size);
        else if (go !== false) {
          // nothing more is read, and nothing goes on, until it is settled
          req.pause();
          go.then(
            (yes) => {
              if (yes && !failed) open(size);
              req.resume();
            },
            (error: Error) => {
              req.resume();
              fail(error);
            },
          );
        }
        return;
      }
      if (upstream && !write(chunk)) {
        req.pause();
        upstream.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      if (failed) return;
      if (size < bytes) fail(new Error('the client sent less than its content-length'));
      else resolve({ body: buffer.subarray(0, size), release });
    });
    req.on('error', fail);
  });
  body.catch(() => release());
  return {
    body,
    forwarded: () => answer !== undefined,
    sent: () => lastWrite,
    answer: () => answer ?? Promise.reject(new Error('the body was not forwarded')),
    decide: (go) => {
      if (!failed) upstream?.end(go ? GO : WITHDRAWN);
    },
  };
}
