// One-dimensional arrays in PostgreSQL's binary format (array_send / array_recv), for bulk writes that bind
// thousands of values per column. Bound as a Buffer, a parameter goes in binary: PostgreSQL reads each element
// by its length instead of parsing a quoted, escaped text literal (array_in). Nine text arrays of 8,605
// elements took it 30–40 ms to parse, more than its index work on the same rows.
//
// Layout: number of dimensions (1), whether any element is NULL, the element type's OID, the dimension's
// length and lower bound (1), then each element as its byte length (-1 for NULL) and bytes.

/** The element types bulk writes bind, by the name a statement casts them to. */
export type BinaryElement = 'text' | 'uuid' | 'int' | 'smallint' | 'bigint' | 'date' | 'boolean';

const HEADER_BYTES = 20;
// days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01
const PG_EPOCH_DAYS = 10_957;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const OIDS: Record<BinaryElement, number> = {
  text: 25,
  uuid: 2950,
  int: 23,
  smallint: 21,
  bigint: 20,
  date: 1082,
  boolean: 16,
};
// bytes of one element of each fixed-size type
const BYTES: Record<Exclude<BinaryElement, 'text'>, number> = {
  uuid: 16,
  int: 4,
  smallint: 2,
  bigint: 8,
  date: 4,
  boolean: 1,
};

const absent = (value: unknown): value is null | undefined => value === null || value === undefined;

function integer(value: unknown, bits: 16 | 32 | 64): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw new TypeError(`binary array: ${String(value)} is not an integer`);
  if (bits !== 64 && (value < -(2 ** (bits - 1)) || value >= 2 ** (bits - 1)))
    throw new RangeError(`binary array: ${value} does not fit in ${bits} bits`);
  return value;
}

// hex digit values by character code (-1: not a hex digit)
const HEX_DIGITS = new Int8Array(128).fill(-1);
for (let d = 0; d < 16; d++) {
  HEX_DIGITS[d.toString(16).charCodeAt(0)] = d;
  HEX_DIGITS[d.toString(16).toUpperCase().charCodeAt(0)] = d;
}
const DASH = 0x2d;
const hexDigit = (code: number) => (code < 128 ? HEX_DIGITS[code] : -1);
const notUuid = (value: unknown) => new TypeError(`binary array: ${String(value)} is not a UUID`);

/** A UUID's 16 bytes from its 8-4-4-4-12 hex digits (either case), read by a loop: no regex, no copy. */
function writeUuid(buffer: Buffer, offset: number, value: unknown): void {
  if (typeof value !== 'string' || value.length !== 36) throw notUuid(value);
  let out = offset;
  for (let i = 0; i < 36; ) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (value.charCodeAt(i) !== DASH) throw notUuid(value);
      i++;
      continue;
    }
    const high = hexDigit(value.charCodeAt(i));
    const low = hexDigit(value.charCodeAt(i + 1));
    if (high < 0 || low < 0) throw notUuid(value);
    buffer[out++] = (high << 4) | low;
    i += 2;
  }
}

function writeDate(buffer: Buffer, offset: number, value: unknown): void {
  const match = typeof value === 'string' ? DATE.exec(value) : null;
  if (!match) throw new TypeError(`binary array: ${String(value)} is not a YYYY-MM-DD date`);
  const time = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  // a day the month does not have would roll over into the next
  if (new Date(time).toISOString().slice(0, 10) !== value)
    throw new RangeError(`binary array: ${value} is not a calendar date`);
  buffer.writeInt32BE(time / 86_400_000 - PG_EPOCH_DAYS, offset);
}

function writeHeader(buffer: Buffer, type: BinaryElement, length: number, nulls: boolean): number {
  buffer.writeInt32BE(1, 0);
  buffer.writeInt32BE(nulls ? 1 : 0, 4);
  buffer.writeUInt32BE(OIDS[type], 8);
  buffer.writeInt32BE(length, 12);
  buffer.writeInt32BE(1, 16);
  return HEADER_BYTES;
}

// Text and the fixed-size types each have a loop of their own: one loop calling a writer per type was a
// call site of seven targets, which the engine could not inline.
function textArray(values: readonly unknown[]): Buffer {
  let size = HEADER_BYTES;
  let nulls = false;
  for (const value of values) {
    size += 4;
    if (absent(value)) nulls = true;
    else size += Buffer.byteLength(typeof value === 'string' ? value : String(value), 'utf8');
  }
  const buffer = Buffer.allocUnsafe(size);
  let offset = writeHeader(buffer, 'text', values.length, nulls);
  for (const value of values) {
    if (absent(value)) {
      offset = buffer.writeInt32BE(-1, offset);
      continue;
    }
    const bytes = buffer.write(typeof value === 'string' ? value : String(value), offset + 4, 'utf8');
    buffer.writeInt32BE(bytes, offset);
    offset += 4 + bytes;
  }
  if (offset !== size) throw new Error(`binary array: wrote ${offset} of ${size} bytes`);
  return buffer;
}

function fixedArray(type: Exclude<BinaryElement, 'text'>, values: readonly unknown[]): Buffer {
  const bytes = BYTES[type];
  let present = 0;
  for (const value of values) if (!absent(value)) present++;
  const buffer = Buffer.allocUnsafe(HEADER_BYTES + 4 * values.length + bytes * present);
  let offset = writeHeader(buffer, type, values.length, present < values.length);
  for (const value of values) {
    if (absent(value)) {
      offset = buffer.writeInt32BE(-1, offset);
      continue;
    }
    offset = buffer.writeInt32BE(bytes, offset);
    switch (type) {
      case 'uuid':
        writeUuid(buffer, offset, value);
        break;
      case 'int':
        buffer.writeInt32BE(integer(value, 32), offset);
        break;
      case 'smallint':
        buffer.writeInt16BE(integer(value, 16), offset);
        break;
      case 'bigint':
        buffer.writeBigInt64BE(BigInt(integer(value, 64)), offset);
        break;
      case 'date':
        writeDate(buffer, offset, value);
        break;
      case 'boolean':
        if (typeof value !== 'boolean')
          throw new TypeError(`binary array: ${String(value)} is not a boolean`);
        buffer.writeUInt8(value ? 1 : 0, offset);
        break;
    }
    offset += bytes;
  }
  return buffer;
}

/**
 * These values as one binary array of `type` (null and undefined are NULL). A statement binds it with a
 * cast to `type[]`, so that PostgreSQL expects that element type.
 */
export function binaryArray(type: BinaryElement, values: readonly unknown[]): Buffer {
  return type === 'text' ? textArray(values) : fixedArray(type, values);
}
