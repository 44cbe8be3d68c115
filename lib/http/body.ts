// Reads a request body with a hard size limit (413 before the whole body is buffered).
import type { IncomingMessage } from 'node:http';
import { AppError, ErrorCode } from '../errors.ts';

// Bodies a route already read and then passed the request on: the next reader gets the same bytes.
const alreadyRead = new WeakMap<IncomingMessage, Buffer>();

/** Hands a body a route has read back to the request, for the route that answers it to read again. */
export function giveBodyBack(req: IncomingMessage, body: Buffer): void {
  alreadyRead.set(req, body);
}

/** The body a route handed back, if any (read once). */
export function bodyGivenBack(req: IncomingMessage): Buffer | undefined {
  const body = alreadyRead.get(req);
  if (body) alreadyRead.delete(req);
  return body;
}

export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const given = bodyGivenBack(req);
  if (given) return given;
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limitBytes) {
    req.resume();
    throw new AppError(ErrorCode.PayloadTooLarge, `Request body exceeds ${limitBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) {
      req.resume();
      throw new AppError(ErrorCode.PayloadTooLarge, `Request body exceeds ${limitBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
