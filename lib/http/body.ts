// Reads a request body with a hard size limit (413 before the whole body is buffered).
import type { IncomingMessage } from 'node:http';
import { AppError, ErrorCode } from '../errors.ts';

export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
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
