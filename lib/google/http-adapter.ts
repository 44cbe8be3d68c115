// The HTTP leg of Gmail API calls: googleapis builds each request (URL, auth header, JSON body) and hands it to
// this adapter, which sends it over kept-alive connections with node:http(s) and reads the answer whole.
// gaxios' default path goes through node-fetch, whose stream pipelines and abort signals cost more CPU per
// call than the rest of a send together; this keeps the request and its answer as plain buffers.
// Anything this adapter does not handle (streamed bodies or answers) goes the default way.
import http from 'node:http';
import https from 'node:https';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/** The part of gaxios' prepared request options this adapter reads. */
export interface PreparedRequest {
  url: URL;
  method?: string;
  headers: Headers;
  body?: unknown;
  signal?: AbortSignal | null;
  responseType?: string;
}

export interface AdapterResponse {
  config: PreparedRequest;
  data: unknown;
  status: number;
  statusText: string;
  headers: Headers;
  /** As a fetch Response read whole: gaxios keeps `data` on its errors only when this is set. */
  bodyUsed: true;
}

export type DefaultAdapter = (options: PreparedRequest) => Promise<unknown>;
export type GaxiosAdapter = (options: PreparedRequest, fallback: DefaultAdapter) => Promise<unknown>;

/** Answers larger than this are refused rather than held in memory (Gmail's JSON answers are small). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** The answer's bytes as sent before compression (googleapis asks for gzip, as Google's servers send). */
function decoded(body: Buffer, encoding: string | undefined): Buffer {
  switch (encoding?.trim().toLowerCase()) {
    case undefined:
    case '':
    case 'identity':
      return body;
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(body);
    case 'deflate':
      return inflateSync(body);
    case 'br':
      return brotliDecompressSync(body);
    default:
      throw new Error(`unsupported content-encoding ${encoding}`);
  }
}

function parseData(body: Buffer, contentType: string | undefined, responseType: string | undefined): unknown {
  const text = body.toString('utf8');
  const json = responseType === 'json' || (responseType !== 'text' && contentType?.includes('json'));
  if (!json) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** One adapter per process: its agents keep `maxSockets` connections per origin open between calls. */
export function keepAliveAdapter(maxSockets: number): GaxiosAdapter {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets }),
    'https:': new https.Agent({ keepAlive: true, maxSockets }),
  };
  return (options, fallback) => {
    const { url, body } = options;
    const plainBody = body === undefined || typeof body === 'string' || Buffer.isBuffer(body);
    const plainAnswer = !options.responseType || ['json', 'text', 'unknown'].includes(options.responseType);
    const agent = agents[url.protocol as keyof typeof agents];
    if (!plainBody || !plainAnswer || !agent) return fallback(options);
    const headers: Record<string, string> = {};
    options.headers.forEach((value, key) => {
      headers[key] = value;
    });
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body as string | Buffer));
    const client = url.protocol === 'https:' ? https : http;
    return new Promise<AdapterResponse>((resolve, reject) => {
      const request = client.request(
        url,
        {
          method: options.method ?? 'GET',
          headers,
          agent,
          ...(options.signal ? { signal: options.signal } : {}),
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES) {
              response.destroy(new Error(`the answer exceeds ${MAX_ANSWER_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          response.on('error', reject);
          response.on('end', () => {
            let answer: Buffer;
            try {
              answer = decoded(Buffer.concat(chunks), response.headers['content-encoding']);
            } catch (error) {
              reject(error);
              return;
            }
            const answerHeaders = new Headers();
            for (const [key, value] of Object.entries(response.headers)) {
              if (value === undefined) continue;
              for (const one of Array.isArray(value) ? value : [value]) answerHeaders.append(key, one);
            }
            resolve({
              config: options,
              data: parseData(answer, response.headers['content-type'], options.responseType),
              status: response.statusCode ?? 0,
              statusText: response.statusMessage ?? '',
              headers: answerHeaders,
              bodyUsed: true,
            });
          });
        },
      );
      request.on('error', reject);
      request.end(body as string | Buffer | undefined);
    });
  };
}
