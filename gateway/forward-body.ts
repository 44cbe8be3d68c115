// POSTs a bulk body (a Pharow ingest) to a subgraph as it is: fetch would first copy the 13 MB into a body
// of its own. Used where the gateway hands an ingest's bytes on without reading them as GraphQL; the webhook's
// body goes on as it arrives.
import { Agent, type IncomingMessage, request } from 'node:http';
import { AppError, ErrorCode } from '../lib/errors.ts';

const agent = new Agent({ keepAlive: true });

export interface Answer {
  status: number;
  contentType: string | undefined;
  text: string;
}

/** The subgraph's answer, whatever its status (subgraphs answer their errors as JSON too). */
export function postBody(target: URL, headers: Record<string, string>, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const upstream = request(target, { method: 'POST', headers, agent }, (answer) => {
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
    });
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
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () =>
          resolve({
            status: answer.statusCode ?? 502,
            contentType: answer.headers['content-type'],
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        answer.on('error', fail);
      },
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
