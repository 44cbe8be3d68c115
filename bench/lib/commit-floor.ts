// The floor under the tracking endpoint, run by bench/tracking.ts as a child process: a bare node:http server that
// group-commits one hit per request to RabbitMQ exactly as the tracking service does (the same batcher, the same
// one publish to both hit queues, answered after the confirm), with no token check, no gateway and no consumer.
// Whatever rate this reaches is the most the endpoint's design can do on this machine and broker.
// Usage: node --import tsx bench/lib/commit-floor.ts <port>   (AMQP_URL, AMQP_PREFIX from the environment)
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { ENGAGEMENT_QUEUE, HITS_QUEUE } from '../../lib/bus/catalog.ts';
import { createBus, sendBatch } from '../../lib/bus/index.ts';
import { createHitBatcher } from '../../lib/tracking/hit-batcher.ts';
import { PIXEL_GIF } from '../../subgraphs/tracking/routes/hit.route.ts';

const port = Number(process.argv[2]);
const quiet = { warn() {}, error: (obj: object, msg?: string) => console.error(msg, obj) };
const bus = await createBus({
  amqpUrl: process.env.AMQP_URL,
  prefix: process.env.AMQP_PREFIX,
  logger: quiet,
});
const organisationId = randomUUID();
let batches = 0;
let confirmMs = 0;
const batcher = createHitBatcher({
  async commit(batch) {
    const started = performance.now();
    await sendBatch(bus, [HITS_QUEUE, ENGAGEMENT_QUEUE], batch, { messageId: randomUUID() });
    confirmMs += performance.now() - started;
    batches += 1;
  },
});

const server = http.createServer((req, res) => {
  req.resume();
  const hit = {
    id: randomUUID(),
    kind: 'OPEN' as const,
    organisationId,
    messageId: randomUUID(),
    url: null,
    at: new Date().toISOString(),
    machine: null,
    userAgent: req.headers['user-agent']?.slice(0, 512) ?? null,
    ipHash: null,
  };
  batcher.add(hit).then(
    () => {
      res.writeHead(200, { 'content-type': 'image/gif', 'content-length': String(PIXEL_GIF.length) });
      res.end(PIXEL_GIF);
    },
    () => {
      res.writeHead(503);
      res.end();
    },
  );
});
server.listen(port, '127.0.0.1', () => console.log('listening'));

process.once('SIGTERM', async () => {
  server.close();
  await batcher.close();
  // the bench reads this line: the mean time from a batch's publish to its confirm
  console.log(`FLOOR ${JSON.stringify({ batches, confirmMs: batches ? confirmMs / batches : 0 })}`);
  await bus.close();
  process.exit(0);
});
