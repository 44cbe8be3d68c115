// lib/ is the base every service stands on: it imports none of them, nor the all-in-one launcher.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const LIB = path.join(ROOT, 'lib');
const FORBIDDEN = ['gateway', 'subgraphs', 'workers', 'stack.ts', 'start.ts'];

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

describe('lib/', () => {
  it('imports nothing from gateway/, subgraphs/, workers/ or the launcher, statically or dynamically', async () => {
    const offenders: string[] = [];
    for (const file of await sourceFiles(LIB)) {
      const source = await readFile(file, 'utf8');
      const specifiers = [
        ...source.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g),
      ];
      for (const [, specifier] of specifiers) {
        const target = path.relative(ROOT, path.resolve(path.dirname(file), specifier));
        const top = target.split(path.sep)[0];
        if (FORBIDDEN.includes(top)) offenders.push(`${path.relative(ROOT, file)} -> ${target}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
