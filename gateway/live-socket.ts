// graphql-ws over `ws` sockets, sending each live payload's JSON made once: the subscribers of one group
// receive the same result object, and their `next` frames differ only by the subscription id.
import type { IncomingMessage } from 'node:http';
import type { ExecutionResult } from 'graphql';
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../lib/telemetry/logger.ts';

/** How often an idle socket is pinged; one that does not answer within as long is ended. */
const KEEP_ALIVE_MS = 12_000;
/** What stands in a frame for a payload's JSON until the frame is sent. */
const PLACEHOLDER = '\u0001live-payload';
const PLACEHOLDER_TAIL = `,"payload":${JSON.stringify(PLACEHOLDER)}}`;

/**
 * A payload already serialised. graphql-ws builds each `next` frame with JSON.stringify; this payload
 * stringifies to a placeholder (and hands over its JSON), which `send` swaps for the JSON at the end of
 * the frame. The frame is stringified and sent in one synchronous step, so the hand-over cannot mix up two
 * payloads.
 */
class SerialisedPayload {
  constructor(readonly json: string) {}

  toJSON(): string {
    handedOver = this.json;
    return PLACEHOLDER;
  }
}

let handedOver: string | undefined;

/** The JSON of a `next` payload as graphql-ws would write it: the result with its errors formatted. */
function serialise(result: ExecutionResult): string {
  const { errors, ...rest } = result;
  return JSON.stringify(errors ? { ...rest, errors: errors.map((e) => e.toJSON()) } : rest);
}

/** The frame with the payload's JSON in place of the placeholder; any other frame as it is. */
function withPayload(frame: string): string {
  const json = handedOver;
  handedOver = undefined;
  // the placeholder can only come last (`payload` is the last key, and no payload of ours is a string)
  if (json === undefined || !frame.endsWith(PLACEHOLDER_TAIL)) return frame;
  return `${frame.slice(0, -PLACEHOLDER_TAIL.length)},"payload":${json}}`;
}

export type SocketExtra = { socket: WebSocket; request: IncomingMessage };

/**
 * Serves graphql-ws on `wss` with `options`; the results a subscription yields are serialised once per
 * result object, however many subscribers it is sent to.
 */
export function serveGraphqlWs<P extends Record<string, unknown> | undefined, E extends SocketExtra>(
  options: ServerOptions<P, E>,
  wss: WebSocketServer,
  log: Logger,
): { dispose(): Promise<void> } {
  const serialised = new WeakMap<ExecutionResult, SerialisedPayload>();
  const server = makeServer<P, E>({
    ...options,
    onNext(_ctx, _id, _payload, _args, result) {
      let payload = serialised.get(result);
      if (!payload) {
        payload = new SerialisedPayload(serialise(result));
        serialised.set(result, payload);
      }
      // graphql-ws only checks that the payload is an object, then stringifies it into the frame
      return payload as unknown as ExecutionResult;
    },
  });
  wss.options.handleProtocols = handleProtocols;

  const internalError = (socket: WebSocket, err: unknown) => {
    log.error({ err }, 'graphql-ws socket error');
    socket.close(CloseCode.InternalServerError, 'Internal server error');
  };

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    socket.once('error', (err) => internalError(socket, err));
    let pongWait: NodeJS.Timeout | undefined;
    const ping = setInterval(() => {
      if (socket.readyState !== socket.OPEN) return;
      pongWait = setTimeout(() => socket.terminate(), KEEP_ALIVE_MS);
      socket.once('pong', () => {
        clearTimeout(pongWait);
        pongWait = undefined;
      });
      socket.ping();
    }, KEEP_ALIVE_MS);
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => {
          const frame = withPayload(data);
          return new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(frame, (err) => (err ? reject(err) : resolve()));
          });
        },
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) =>
          socket.on('message', async (data) => {
            try {
              await cb(String(data));
            } catch (err) {
              internalError(socket, err);
            }
          }),
      },
      { socket, request } as E,
    );
    socket.once('close', (code, reason) => {
      clearTimeout(pongWait);
      clearInterval(ping);
      closed(code, String(reason));
    });
  });

  return {
    async dispose() {
      for (const client of wss.clients) client.close(1001, 'Going away');
      wss.removeAllListeners();
      await new Promise<void>((resolve, reject) => wss.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
