// Large request bodies (bulk ingests) read into buffers kept for the next request: a fresh 13 MB buffer
// costs more in page faults and garbage collection than copying the bytes into it. Same limits and
// errors as readBody; small or chunked bodies simply go through readBody.
import type { IncomingMessage } from 'node:http';
import { AppError, ErrorCode } from '../errors.ts';
import { bodyGivenBack, readBody } from './body.ts';

// Below this a body is read as usual; above it, buffers are reused.
const POOLED_FROM_BYTES = 1024 * 1024;
// Buffers kept while no request holds them (each as large as the largest body it served).
const KEPT = 2;
const free: Buffer[] = [];

export interface PooledBody {
  body: Buffer;
  /** Gives the buffer back: nothing may read `body` (or a slice of it) afterwards. */
  release(): void;
}

const unpooled = (body: Buffer): PooledBody => ({ body, release: () => undefined });

function take(bytes: number): Buffer {
  const index = free.findIndex((b) => b.length >= bytes);
  if (index >= 0) return free.splice(index, 1)[0];
  // whole megabytes, so that slightly different sizes share buffers
  return Buffer.allocUnsafeSlow(Math.ceil(bytes / POOLED_FROM_BYTES) * POOLED_FROM_BYTES);
}

function giveBack(buffer: Buffer): void {
  free.push(buffer);
  free.sort((a, b) => b.length - a.length);
  free.length = Math.min(free.length, KEPT);
}

export async function readPooledBody(req: IncomingMessage, limitBytes: number): Promise<PooledBody> {
  const given = bodyGivenBack(req);
  if (given) return unpooled(given);
  const declared = Number(req.headers['content-length']);
  if (!(declared >= POOLED_FROM_BYTES) || declared > limitBytes || req.headers['transfer-encoding'])
    return unpooled(await readBody(req, limitBytes));
  let buffer = take(declared);
  let size = 0;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    giveBack(buffer);
  };
  try {
    for await (const chunk of req) {
      const bytes = chunk as Buffer;
      if (size + bytes.length > limitBytes) {
        req.resume();
        throw new AppError(ErrorCode.PayloadTooLarge, `Request body exceeds ${limitBytes} bytes`);
      }
      if (size + bytes.length > buffer.length) {
        // more than declared: the HTTP parser does not allow it, but never write past the buffer
        const larger = take(size + bytes.length);
        buffer.copy(larger, 0, 0, size);
        giveBack(buffer);
        buffer = larger;
      }
      bytes.copy(buffer, size);
      size += bytes.length;
    }
  } catch (error) {
    release();
    throw error;
  }
  return { body: buffer.subarray(0, size), release };
}

/** A pooled buffer of at least `bytes`, for a body copied in by hand; `release` gives it back. */
export function borrowBuffer(bytes: number): { buffer: Buffer; release(): void } {
  const buffer = take(bytes);
  let released = false;
  return {
    buffer,
    release: () => {
      if (released) return;
      released = true;
      giveBack(buffer);
    },
  };
}
