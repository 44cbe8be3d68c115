// Quorum queues from RabbitMQ 3.13, classic before: chosen at start-up from what the broker announces.
import { describe, expect, it } from 'vitest';
import { createBus } from './index.ts';
import { parseConnectionStart, queueTypeFor, readServerProperties } from './queue-type.ts';
import type { RabbitMqBus } from './rabbitmq-bus.ts';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

/** A connection.start frame as a broker sends it, with the given string properties. */
function connectionStart(properties: Record<string, string>): Buffer {
  const entries = Object.entries(properties).map(([key, value]) => {
    const name = Buffer.from(key);
    const text = Buffer.from(value);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(text.length);
    return Buffer.concat([Buffer.from([name.length]), name, Buffer.from('S'), length, text]);
  });
  // a nested table first, as RabbitMQ sends "capabilities": a boolean and a void field
  const inner = Buffer.concat([
    Buffer.from([10]),
    Buffer.from('publisherX'),
    Buffer.from('t'),
    Buffer.from([1]),
    Buffer.from([4]),
    Buffer.from('none'),
    Buffer.from('V'),
  ]);
  const innerLength = Buffer.alloc(4);
  innerLength.writeUInt32BE(inner.length);
  const nested = Buffer.concat([
    Buffer.from([12]),
    Buffer.from('capabilities'),
    Buffer.from('F'),
    innerLength,
    inner,
  ]);
  const table = Buffer.concat([nested, ...entries]);
  const tableLength = Buffer.alloc(4);
  tableLength.writeUInt32BE(table.length);
  const payload = Buffer.concat([Buffer.from([0, 10, 0, 10, 0, 9]), tableLength, table]);
  const header = Buffer.alloc(7);
  header.writeUInt8(1, 0);
  header.writeUInt16BE(0, 1);
  header.writeUInt32BE(payload.length, 3);
  return Buffer.concat([header, payload, Buffer.from([0xce])]);
}

describe('queue type by broker version', () => {
  it('is quorum from 3.13 on and classic before, or when the version is unknown', () => {
    expect(queueTypeFor('3.13.0')).toBe('quorum');
    expect(queueTypeFor('3.13.7')).toBe('quorum');
    expect(queueTypeFor('4.0.5')).toBe('quorum');
    expect(queueTypeFor('4.1.0-rc.1')).toBe('quorum');
    expect(queueTypeFor('3.12.14')).toBe('classic');
    expect(queueTypeFor('3.10.8')).toBe('classic');
    expect(queueTypeFor('2.8.7')).toBe('classic');
    expect(queueTypeFor(undefined)).toBe('classic');
    expect(queueTypeFor('nonsense')).toBe('classic');
  });

  it("reads the version from a connection.start frame's server properties", () => {
    const frame = connectionStart({ product: 'RabbitMQ', version: '3.13.2' });
    expect(parseConnectionStart(frame)).toMatchObject({
      product: 'RabbitMQ',
      version: '3.13.2',
      capabilities: { publisherX: true },
    });
    expect(() => parseConnectionStart(Buffer.from('AMQP\u0000\u0000\u0009\u0001'))).toThrow(/AMQP 0-9-1/);
  });

  it('reads the real broker, and a bus on it uses the type its version calls for and says so', async () => {
    const properties = await readServerProperties(AMQP_URL);
    expect(properties.product).toBe('RabbitMQ');
    expect(properties.version).toMatch(/^\d+\.\d+\.\d+/);
    const lines: Array<{ obj: object; msg?: string }> = [];
    const bus = (await createBus({
      amqpUrl: AMQP_URL,
      prefix: 'test-queue-type.',
      logger: { info: (obj, msg) => lines.push({ obj, msg }), warn: () => {}, error: () => {} },
    })) as RabbitMqBus;
    try {
      const expected = queueTypeFor(properties.version as string);
      expect(bus.queueType).toBe(expected);
      expect(lines).toEqual([
        {
          obj: { queueType: expected, brokerVersion: properties.version },
          msg: expect.stringContaining(`${expected} queues`),
        },
      ]);
    } finally {
      await bus.close();
    }
  });

  it('fails with one clear message when no broker answers', async () => {
    await expect(readServerProperties('amqp://127.0.0.1:1', 2000)).rejects.toThrow(
      /cannot connect to RabbitMQ/,
    );
  });
});
