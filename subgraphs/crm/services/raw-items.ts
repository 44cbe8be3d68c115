// The raw items of an ingest, as bytes: the list is split where it stands in the request body, each item is
// fingerprinted from its own bytes, and only the items the ingest has to normalise are ever parsed. A repeat
// of 10,000 stored items then neither builds nor re-serialises 13 MB of objects.
//
// Anything the splitter is not sure of (escaped keys, a key given twice, brackets that do not match) is left
// to JSON.parse of the whole body, so every malformed body gets the error it always got.
import { hash } from 'node:crypto';
import { NORMALISATION_VERSION, rawFingerprint } from './known-items.ts';

/** An item that is not JSON: it is never among the known items, so it is parsed before anything is written. */
export class InvalidItemJson extends Error {}

/** The items of one ingest: each one's fingerprint (null when it is not an object) and value. */
export class RawItems {
  private constructor(
    readonly length: number,
    private readonly fingerprintOf: (index: number) => string | null,
    private readonly parseItem: (index: number) => unknown,
  ) {}

  /** Items already parsed (the GraphQL resolver's coerced input): fingerprints of their JSON text. */
  static ofValues(values: unknown[]): RawItems {
    return new RawItems(
      values.length,
      (i) => rawFingerprint(values[i]),
      (i) => values[i],
    );
  }

  /** Items as byte ranges of a body: [start, end) of item i at bounds[2i], bounds[2i + 1]. */
  static ofBytes(body: Buffer, bounds: number[]): RawItems {
    // prefix and item copied side by side, hashed in one call: a hash object per item cost twice as much
    let scratch = Buffer.allocUnsafe(0);
    return new RawItems(
      bounds.length / 2,
      (i) => {
        const start = bounds[2 * i];
        const end = bounds[2 * i + 1];
        // JSON.stringify of the same value gives these bytes for compact JSON: the two fingerprints agree
        if (body[start] !== OPEN_BRACE) return null;
        const length = PREFIX_BYTES.length + end - start;
        if (scratch.length < length) {
          scratch = Buffer.allocUnsafe(Math.max(length, 2 * scratch.length));
          PREFIX_BYTES.copy(scratch);
        }
        body.copy(scratch, PREFIX_BYTES.length, start, end);
        return hash('sha1', scratch.subarray(0, length), 'base64url');
      },
      (i) => {
        try {
          return JSON.parse(body.toString('utf8', bounds[2 * i], bounds[2 * i + 1]));
        } catch {
          throw new InvalidItemJson(`item ${i} is not valid JSON`);
        }
      },
    );
  }

  fingerprints(): (string | null)[] {
    const out = new Array<string | null>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.fingerprintOf(i);
    return out;
  }

  value(index: number): unknown {
    return this.parseItem(index);
  }
}

const PREFIX_BYTES = Buffer.from(`${NORMALISATION_VERSION}\u0000`, 'utf8');

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** A path of object keys from the body's root; '*' stands for any one key. */
export type KeyPath = readonly string[];

interface Frame {
  array: boolean;
  /** this container's own key path (undefined once it leaves every pattern) */
  path: string[] | undefined;
  /** keys seen in an object on a pattern's way: one given twice is left to JSON.parse */
  keys: Set<string> | undefined;
  key: string | undefined;
  expectKey: boolean;
  /** the item list being split: offsets of '[', each ',' and ']' */
  marks: number[] | undefined;
}

const onTheWay = (path: string[], pattern: KeyPath) =>
  path.length <= pattern.length && path.every((k, i) => pattern[i] === '*' || pattern[i] === k);

/**
 * The offset just after the container opening at `start`, or -1 when a string is not closed or brackets do
 * not match (then the body is parsed whole, as before). `open` is scratch space for the open brackets.
 */
function skipContainer(body: Buffer, start: number, open: number[]): number {
  const n = body.length;
  open.length = 0;
  let i = start;
  while (i < n) {
    const c = body[i];
    if (c === QUOTE) {
      i++;
      for (;;) {
        if (i >= n) return -1;
        const d = body[i];
        if (d === QUOTE) break;
        i += d === BACKSLASH ? 2 : 1;
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) open.push(c);
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      const opened = open.pop();
      if (opened !== (c === CLOSE_BRACE ? OPEN_BRACE : OPEN_BRACKET)) return -1;
      if (open.length === 0) return i + 1;
    }
    i++;
  }
  return -1;
}

/**
 * The one array at `pattern` in a JSON body, as the envelope with that array emptied (parsed) and the byte
 * ranges of its items, or undefined when the body is not plainly of that shape (then parse it whole).
 */
export function splitItemList(
  body: Buffer,
  pattern: KeyPath,
): { envelope: unknown; path: string[]; bounds: number[] } | undefined {
  const stack: Frame[] = [];
  const containers: number[] = [];
  let found: { path: string[]; marks: number[] } | undefined;
  const n = body.length;
  let i = 0;
  while (i < n) {
    const c = body[i];
    if (c === QUOTE) {
      let j = i + 1;
      let escaped = false;
      for (; j < n; j++) {
        const d = body[j];
        if (d === QUOTE) break;
        if (d === BACKSLASH) {
          escaped = true;
          j++;
        }
      }
      if (j >= n) return undefined;
      const top = stack[stack.length - 1];
      if (top && !top.array && top.expectKey) {
        top.expectKey = false;
        if (top.path) {
          if (escaped) return undefined;
          const key = body.toString('utf8', i + 1, j);
          if (top.keys?.has(key)) return undefined;
          top.keys?.add(key);
          top.key = key;
        }
      }
      i = j + 1;
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      const parent = stack[stack.length - 1];
      let path: string[] | undefined;
      if (!parent) path = [];
      else if (parent.path && !parent.array && parent.key !== undefined) {
        const candidate = [...parent.path, parent.key];
        if (onTheWay(candidate, pattern)) path = candidate;
      }
      if (path === undefined) {
        // off every pattern (each item, most of the body): only its strings and brackets matter
        const after = skipContainer(body, i, containers);
        if (after < 0) return undefined;
        i = after;
        continue;
      }
      const array = c === OPEN_BRACKET;
      const target = array && path !== undefined && path.length === pattern.length;
      if (target && found) return undefined;
      const frame: Frame = {
        array,
        path: array && !target ? undefined : path,
        keys: !array && path ? new Set() : undefined,
        key: undefined,
        expectKey: !array,
        marks: target ? [i] : undefined,
      };
      if (target) found = { path: path as string[], marks: frame.marks as number[] };
      stack.push(frame);
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      const top = stack.pop();
      if (!top || top.array !== (c === CLOSE_BRACKET)) return undefined;
      top.marks?.push(i);
    } else if (c === COMMA) {
      const top = stack[stack.length - 1];
      if (!top) return undefined;
      if (top.array) top.marks?.push(i);
      else {
        top.expectKey = true;
        top.key = undefined;
      }
    }
    i++;
  }
  if (stack.length > 0 || !found) return undefined;
  const marks = found.marks;
  const open = marks[0];
  const close = marks[marks.length - 1];
  const bounds: number[] = [];
  for (let m = 0; m + 1 < marks.length; m++) {
    let start = marks[m] + 1;
    let end = marks[m + 1];
    while (start < end && isSpace(body[start])) start++;
    while (end > start && isSpace(body[end - 1])) end--;
    bounds.push(start, end);
  }
  // "[ ]" holds no item; an empty one anywhere else ("[1,,2]", "[1,]") is JSON.parse's to refuse
  if (bounds.length === 2 && bounds[0] === bounds[1]) bounds.length = 0;
  for (let b = 0; b < bounds.length; b += 2) if (bounds[b] === bounds[b + 1]) return undefined;
  let envelope: unknown;
  try {
    envelope = JSON.parse(
      `${body.toString('utf8', 0, open + 1)}${body.toString('utf8', close, body.length)}`,
    );
  } catch {
    return undefined;
  }
  return { envelope, path: found.path, bounds };
}
