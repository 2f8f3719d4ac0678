/**
 * Migrations on a real PostgreSQL (src/db/orm.ts): processes that start together on an empty
 * database take turns, so exactly one applies every migration and none fails on a duplicate table.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { migrate, openOrm, type Orm } from '../../src/db/orm.js';
import { migrations } from '../../src/entities/index.js';
import { createDatabase } from '../support/postgres.js';
import { adminUrl } from '../support/server.js';

test('six processes migrating one empty database at once: one applies everything, the others nothing, none fails', async () => {
  const url = await createDatabase(adminUrl(), `t_migrate_${process.pid}`);
  const logger = pino({ level: 'silent' });
  const orms: Orm[] = await Promise.all(Array.from({ length: 6 }, () => openOrm({ url, poolSize: 2, logger })));
  try {
    const results = await Promise.allSettled(orms.map((orm) => migrate(orm, url)));
    const failures = results.filter((r) => r.status === 'rejected');
    assert.deepEqual(failures, [], 'no process fails');
    const applied = results.map((r) => (r as PromiseFulfilledResult<string[]>).value);
    assert.equal(applied.filter((a) => a.length > 0).length, 1, 'exactly one process applies the migrations');
    assert.equal(applied.flat().length, migrations.length, 'each migration applied once');
    // And the schema is there: a table every migration set creates.
    const rows = await orms[0]!.em.fork().getConnection().execute<{ n: string }[]>(`SELECT count(*) AS n FROM users`);
    assert.equal(Number(rows[0]!.n), 0);
  } finally {
    await Promise.all(orms.map((orm) => orm.close(true)));
  }
});
