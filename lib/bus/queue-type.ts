// Quorum or classic queues, chosen once at start-up from the broker's version: quorum queues from
// RabbitMQ 3.13 on, classic queues on older brokers.
import net from 'node:net';
import tls from 'node:tls';
import { BusError } from './types.ts';

export type QueueType = 'quorum' | 'classic';

const QUORUM_SINCE: readonly [number, number] = [3, 13];
const PROTOCOL_HEADER = Buffer.from([65, 77, 81, 80, 0, 0, 9, 1]);
const FRAME_END = 0xce;

/** `3.13.0`, `4.0.5`, `3.13.0-rc.1` → quorum; older, or a version we cannot read → classic. */
export function queueTypeFor(version: string | undefined): QueueType {
  const m = /^(\d+)\.(\d+)/.exec(version ?? '');
  if (!m) return 'classic';
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const [qMajor, qMinor] = QUORUM_SINCE;
  return major > qMajor || (major === qMajor && minor >= qMinor) ? 'quorum' : 'classic';
}

/**
 * The server properties a broker announces in connection.start (product, version, capabilities…). The
 * client library keeps them to itself, so this opens a short connection of its own and closes it before
 * logging in.
 */
export async function readServerProperties(url: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
  const target = new URL(url);
  const secure = target.protocol === 'amqps:';
  const port = Number(target.port) || (secure ? 5671 : 5672);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = secure ? tls.connect({ host, port, servername: host }) : net.connect({ host, port });
    let buffer = Buffer.alloc(0);
    const finish = (error: Error | undefined, properties?: Record<string, unknown>) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(properties!);
    };
    const timer = setTimeout(
      () => finish(new BusError(`RabbitMQ at ${host}:${port} did not greet within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once(secure ? 'secureConnect' : 'connect', () => socket.write(PROTOCOL_HEADER));
    socket.on('error', (err) => finish(new BusError(`cannot connect to RabbitMQ: ${err.message}`)));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length < 7) return;
      const size = buffer.readUInt32BE(3);
      if (buffer.length < 7 + size + 1) return;
      try {
        finish(undefined, parseConnectionStart(buffer.subarray(0, 7 + size + 1)));
      } catch (err) {
        finish(err as Error);
      }
    });
  });
}

/** The server-properties table of a connection.start method frame. */
export function parseConnectionStart(frame: Buffer): Record<string, unknown> {
  if (frame.subarray(0, 4).toString('latin1') === 'AMQP') {
    throw new BusError('the broker does not speak AMQP 0-9-1');
  }
  const size = frame.readUInt32BE(3);
  if (frame[0] !== 1 || frame[7 + size] !== FRAME_END) throw new BusError('malformed AMQP frame');
  const classId = frame.readUInt16BE(7);
  const methodId = frame.readUInt16BE(9);
  if (classId !== 10 || methodId !== 10) throw new BusError('expected connection.start from the broker');
  // version-major, version-minor, then the table
  return readTable(frame, 13).value;
}

function readTable(buf: Buffer, offset: number): { value: Record<string, unknown>; next: number } {
  const length = buf.readUInt32BE(offset);
  const end = offset + 4 + length;
  const value: Record<string, unknown> = {};
  let at = offset + 4;
  while (at < end) {
    const nameLength = buf.readUInt8(at);
    const name = buf.toString('utf8', at + 1, at + 1 + nameLength);
    const field = readField(buf, at + 1 + nameLength);
    value[name] = field.value;
    at = field.next;
  }
  return { value, next: end };
}

function readField(buf: Buffer, offset: number): { value: unknown; next: number } {
  const type = String.fromCharCode(buf.readUInt8(offset));
  const at = offset + 1;
  switch (type) {
    case 't':
      return { value: buf.readUInt8(at) !== 0, next: at + 1 };
    case 'b':
    case 'B':
      return { value: buf.readUInt8(at), next: at + 1 };
    case 's':
    case 'u':
      return { value: buf.readUInt16BE(at), next: at + 2 };
    case 'I':
    case 'i':
    case 'f':
      return { value: buf.readUInt32BE(at), next: at + 4 };
    case 'D':
      return { value: undefined, next: at + 5 };
    case 'l':
    case 'd':
    case 'T':
      return { value: undefined, next: at + 8 };
    case 'S':
    case 'x': {
      const length = buf.readUInt32BE(at);
      return { value: buf.toString('utf8', at + 4, at + 4 + length), next: at + 4 + length };
    }
    case 'F':
      return readTable(buf, at);
    case 'A':
      return { value: undefined, next: at + 4 + buf.readUInt32BE(at) };
    case 'V':
      return { value: undefined, next: at };
    default:
      throw new BusError(`unknown AMQP field type ${JSON.stringify(type)}`);
  }
}
