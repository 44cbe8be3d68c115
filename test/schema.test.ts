// The committed schema/ files and generated operations must match the code; a stale file fails here.
import { readFile } from 'node:fs/promises';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import codegenConfig from '../codegen.ts';
import { apiSchemaOf, composeSupergraph } from '../schema/compose.ts';

const read = (path: string) => readFile(new URL(`../${path}`, import.meta.url), 'utf8');

describe('committed schema', () => {
  it('schema/*.graphql and supergraph.graphql are what `npm run compose` produces', async () => {
    const { subgraphs, supergraph } = await composeSupergraph();
    for (const [name, sdl] of Object.entries(subgraphs)) {
      expect(
        await read(`schema/${name}.graphql`),
        `schema/${name}.graphql is stale: run npm run compose`,
      ).toBe(sdl);
    }
    expect(await read('schema/supergraph.graphql'), 'run npm run compose').toBe(supergraph);
    expect(await read('schema/api.graphql'), 'run npm run compose').toBe(`${apiSchemaOf(supergraph)}\n`);
  });

  it('test/generated/graphql.ts is what `npm run codegen` produces', async () => {
    const [output] = await generate(
      { ...codegenConfig, cwd: new URL('..', import.meta.url).pathname, silent: true },
      false,
    );
    expect(await read('test/generated/graphql.ts'), 'run npm run codegen').toBe(output.content);
  });
});
