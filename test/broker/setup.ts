// What tests that run alone need from the run: the database server they make their own databases on.
import type { TestProject } from 'vitest/node';

export default function setup(project: TestProject): void {
  project.provide(
    'adminDatabaseUrl',
    process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  );
}
