// A bulk body forwarded while the forwarder still checks it (the gateway's ingest fast path): the receiver
// gets the client's bytes as they arrive, declared in a header, then one byte, the verdict. It may read and
// prepare the body meanwhile, but must act on it (write anything) only once the verdict says so.
import type { IncomingMessage } from 'node:http';
import { AppError, ErrorCode } from '../errors.ts';
import { borrowBuffer, type PooledBody } from './body-pool.ts';

/** The header that carries the client body's length (the bytes before the verdict). */
export const BODY_BYTES_HEADER = 'x-body-bytes-before-verdict';
export const GO = '1';
export const WITHDRAWN = '0';

/** The forwarder withdrew the request (or went away before saying): nothing may be written for it. */
export class BodyWithdrawn extends Error {}

export interface VerdictBody extends PooledBody {
  /** Resolves on the go-ahead; rejects with BodyWithdrawn otherwise. */
  verdict: Promise<void>;
}

/** Reads the declared client bytes (resolving with them), then the verdict that follows them. */
export function readVerdictBody(req: IncomingMessage, limitBytes: number): Promise<VerdictBody> {
  const declared = Number(req.headers[BODY_BYTES_HEADER]);
  if (!Number.isSafeInteger(declared) || declared < 0)
    return Promise.reject(new AppError(ErrorCode.BadUserInput, `${BODY_BYTES_HEADER} must be a byte count`));
  if (declared > limitBytes) {
    req.resume();
    return Promise.reject(
      new AppError(ErrorCode.PayloadTooLarge, `Request body exceeds ${limitBytes} bytes`),
    );
  }
  const { buffer, release } = borrowBuffer(Math.max(declared, 1));
  return new Promise((resolve, reject) => {
    let size = 0;
    let tail = '';
    let settleVerdict: { go(): void; stop(error: Error): void } | undefined;
    let bodyDone = false;
    const verdict = new Promise<void>((go, stop) => {
      settleVerdict = { go, stop };
    });
    // a verdict nobody waits for (an answer given before the ingest) is not an unhandled rejection
    verdict.catch(() => undefined);
    const fail = (error: Error) => {
      settleVerdict?.stop(new BodyWithdrawn(error.message));
      if (!bodyDone) {
        release();
        reject(error);
      }
    };
    const onBody = () => {
      bodyDone = true;
      resolve({ body: buffer.subarray(0, declared), release, verdict });
    };
    if (declared === 0) onBody();
    req.on('data', (chunk: Buffer) => {
      let rest = chunk;
      if (size < declared) {
        const take = Math.min(declared - size, rest.length);
        rest.copy(buffer, size, 0, take);
        size += take;
        rest = rest.subarray(take);
        if (size === declared) onBody();
      }
      if (rest.length > 0) {
        tail += rest.toString('latin1');
        if (tail.length > 1) fail(new Error('more than one verdict byte'));
      }
    });
    req.on('end', () => {
      if (size < declared) fail(new Error('the body ended before its declared length'));
      else if (tail === GO) settleVerdict?.go();
      else settleVerdict?.stop(new BodyWithdrawn('the request was withdrawn'));
    });
    req.on('error', fail);
    req.on('aborted', () => fail(new Error('the forwarder went away before its verdict')));
  });
}
