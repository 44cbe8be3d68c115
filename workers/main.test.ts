// `npm run start:worker -- <name>`: a name that is no worker gets one line and exit code 1.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: tmpdir() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('start:worker', () => {
  it('is the npm script that runs workers/main.ts', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts['start:worker']).toMatch(/--import tsx workers\/main\.ts$/);
  });

  it('refuses an unknown worker with one line naming the workers, and exit code 1', async () => {
    const outcome = await run(['nope']);
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr.trim().split('\n')).toEqual([
      'prospectflow: unknown worker "nope": usage: npm run start:worker -- <relay|scheduler|drafter|sender|inbox|unsubscribe|engagement|events>',
    ]);
  });

  it('says what is missing when a known worker has no database or broker to use', async () => {
    const outcome = await run(['relay']);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^prospectflow: DATABASE_URL is required to run a worker alone/),
    ]);
  });
});
