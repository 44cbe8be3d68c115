// POSTs a bulk body (a Pharow ingest) to a subgraph as it is: fetch would first copy the 13 MB into a body
// of its own. Used where the gateway hands an ingest's bytes on without reading them as GraphQL.
import { Agent, request } from 'node:http';

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
