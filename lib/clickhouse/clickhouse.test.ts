import { describe, expect, it } from 'vitest';
import { clickhouseTarget } from './client.ts';
import { statementsOf } from './migrate.ts';

describe('CLICKHOUSE_URL', () => {
  it('names the server, the credentials and the database', () => {
    expect(clickhouseTarget('http://prospectflow:p%40ss@clickhouse:8123/prospectflow')).toEqual({
      url: 'http://clickhouse:8123',
      username: 'prospectflow',
      password: 'p@ss',
      database: 'prospectflow',
    });
    expect(clickhouseTarget('http://127.0.0.1:8123')).toEqual({
      url: 'http://127.0.0.1:8123',
      username: 'default',
      password: '',
      database: 'default',
    });
  });

  it('refuses what cannot go into SQL as a database name, and other schemes', () => {
    expect(() => clickhouseTarget('http://h:8123/db;DROP')).toThrow(/letters, digits and _/);
    expect(() => clickhouseTarget('http://h:8123/a/b')).toThrow(/letters, digits and _/);
    expect(() => clickhouseTarget('tcp://h:9000/db')).toThrow(/http\(s\) URL/);
  });
});

describe('ClickHouse migration files', () => {
  it('split into statements at line-ending semicolons, comments dropped', () => {
    expect(
      statementsOf(
        '-- a table\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n\n-- another\nSELECT 1;\nSELECT 2',
      ),
    ).toEqual(['CREATE TABLE a (x UInt8) ENGINE = Memory', 'SELECT 1', 'SELECT 2']);
  });
});
