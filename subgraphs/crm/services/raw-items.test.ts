import { describe, expect, it } from 'vitest';
import { rawFingerprint } from './known-items.ts';
import { InvalidItemJson, RawItems, splitItemList } from './raw-items.ts';

const items = (body: string, path: string[]) => {
  const raw = Buffer.from(body);
  const split = splitItemList(raw, path);
  if (!split) return undefined;
  const batch = RawItems.ofBytes(raw, split.bounds);
  return {
    envelope: split.envelope,
    path: split.path,
    values: Array.from({ length: batch.length }, (_, i) => batch.value(i)),
    fingerprints: batch.fingerprints(),
  };
};

describe('splitItemList', () => {
  it('splits the data list of a webhook body into the values JSON.parse gives, with the same fingerprints', () => {
    const data = [
      {
        company: { name: 'Café "Le Zinc", Lyon', tags: ['a,b', '[x]', '{y}'] },
        person: { firstName: 'Zoë\\' },
      },
      { company: { name: 'Ä\u00e9\u2028 \\"' }, position: { positionEmail: 'a@b.fr' } },
      null,
      42,
      [1, 2],
      'text',
    ];
    const body = JSON.stringify({ version: 'V2', data, extra: { data: [9] } });
    const split = items(body, ['data']);
    expect(split?.values).toEqual(data);
    expect(split?.envelope).toEqual({ version: 'V2', data: [], extra: { data: [9] } });
    // compact JSON gives the fingerprint of the parsed value: a repeat through either path is recognised
    expect(split?.fingerprints).toEqual(data.map(rawFingerprint));
    expect(split?.fingerprints.slice(2)).toEqual([null, null, null, null]);
  });

  it('keeps spaces and line breaks around items and lists out of the items', () => {
    const body = '\n{ "data" : [\n  {"a": 1} ,\t{"b": [ 2 ]}\r\n ] }\n';
    expect(items(body, ['data'])?.values).toEqual([{ a: 1 }, { b: [2] }]);
    expect(items('{"data":[ ]}', ['data'])?.values).toEqual([]);
    expect(items('{"data":[]}', ['data'])?.values).toEqual([]);
  });

  it('steps over whole items and other containers, brackets and escaped quotes in their strings included', () => {
    const body = '{"meta":{"x":[1,{"y":"]}"}],"z":{}},"data":[{"a":"x\\"]}"},[[{}],"\\\\"],{"b":{"c":[]}}]}';
    expect(items(body, ['data'])?.values).toEqual(JSON.parse(body).data);
    expect(items(body, ['data'])?.envelope).toEqual({ meta: JSON.parse(body).meta, data: [] });
    for (const unsure of ['{"data":[{"a":[1}]}', '{"data":[[{"a":1]]]}', '{"m":{"a":[}],"data":[1]}'])
      expect(splitItemList(Buffer.from(unsure), ['data']), unsure).toBeUndefined();
  });

  it("finds a mutation's items under any variable name", () => {
    const body = JSON.stringify({
      query: 'mutation M($in: PharowIngestInput!) { ingestPharow(input: $in) { received } }',
      variables: { in: { data: [{ person: { firstName: 'A' } }] } },
      operationName: 'M',
    });
    const split = items(body, ['variables', '*', 'data']);
    expect(split?.path).toEqual(['variables', 'in', 'data']);
    expect(split?.values).toEqual([{ person: { firstName: 'A' } }]);
    expect(split?.envelope).toMatchObject({ variables: { in: { data: [] } } });
  });

  it('leaves to a whole parse anything it cannot read plainly', () => {
    const unsure = [
      '{"data":[1,2],"data":[3]}', // a key twice: JSON.parse keeps the last
      '{"d\\u0061ta":[1]}', // an escaped key
      '{"data":[{"a":1}}]}', // brackets that do not match
      '{"data":[1,,2]}',
      '{"data":[1,]}',
      '{"data":[1] ', // unterminated
      '{"data":[1]} {"data":[2]}',
      '{"data":[1], }', // the envelope is not JSON
      '{"data":"[1]"}', // no list
      '[{"data":[1]}]',
      '{"data":[1,"unterminated]}',
      '\ufeff{"data":[1]}',
    ];
    for (const body of unsure) expect(splitItemList(Buffer.from(body), ['data']), body).toBeUndefined();
    const twice = '{"variables":{"a":{"data":[1]},"b":{"data":[2]}}}';
    expect(splitItemList(Buffer.from(twice), ['variables', '*', 'data'])).toBeUndefined();
  });

  it('parses an item only when asked, and says which one is not JSON', () => {
    const split = items('{"data":[{"a":1}]}', ['data']);
    expect(split?.values).toEqual([{ a: 1 }]);
    const raw = Buffer.from('{"data":[{"a":1},{"b":tru}]}');
    const bounds = splitItemList(raw, ['data'])?.bounds ?? [];
    const batch = RawItems.ofBytes(raw, bounds);
    expect(batch.length).toBe(2);
    expect(batch.value(0)).toEqual({ a: 1 });
    expect(() => batch.value(1)).toThrow(InvalidItemJson);
  });
});
