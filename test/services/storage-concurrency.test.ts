/**
 * Storage under concurrency and its query plans, on PostgreSQL: racing conditional writes over HTTP
 * have one winner, and the statements the service really runs (captured from the driver) use the
 * indexes on their own.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { http, newDevice, startTestServer, type TestServer } from '../support/server.js';

let s: TestServer;
let db: pg.Client;
before(async () => {
  s = await startTestServer({}, { db: 'postgres' });
  db = new pg.Client({ connectionString: s.databaseUrl });
  await db.connect();
});
after(async () => {
  await db?.end();
  await s?.stop();
});

const md5 = (text: string) => createHash('md5').update(text).digest('hex');
const VERSION_FAILED = 'Storage write rejected - version check failed.';

const write = (bearer: string, object: Record<string, unknown>) =>
  http(s.url, 'PUT', '/v2/storage', { auth: bearer, body: { objects: [object] } });

describe('racing writes', () => {
  test('50 conditional writes with the same expected version: exactly one wins', async () => {
    const d = await newDevice(s.url);
    const first = await write(d.bearer, { collection: 'race', key: 'occ', value: '{"n":-1}' });
    assert.equal(first.status, 200);
    const v0 = first.body.acks[0].version as string;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => write(d.bearer, { collection: 'race', key: 'occ', value: `{"n":${i}}`, version: v0 })),
    );
    const won = results.filter((r) => r.status === 200);
    const lost = results.filter((r) => r.status !== 200);
    assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status)));
    assert.equal(lost.length, 49);
    for (const r of lost) {
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.deepEqual([r.body.code, r.body.message], [3, VERSION_FAILED]);
    }
    const winner = won[0]!.body.acks[0].version as string;
    const { rows } = await db.query(
      'select version, value::text as value from storage where collection = $1 and key = $2 and user_id = $3',
      ['race', 'occ', won[0]!.body.acks[0].user_id],
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].version, winner);
    // The stored value is the winner's: its hash is the winner's version.
    const n = JSON.parse(rows[0].value).n as number;
    assert.equal(md5(`{"n":${n}}`), winner);
  });

  test('50 "*" creates of one key: exactly one succeeds', async () => {
    const d = await newDevice(s.url);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => write(d.bearer, { collection: 'race', key: 'create', value: `{"n":${i}}`, version: '*' })),
    );
    const won = results.filter((r) => r.status === 200);
    assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status)));
    for (const r of results.filter((x) => x.status !== 200))
      assert.deepEqual([r.status, r.body.code, r.body.message], [400, 3, VERSION_FAILED]);
    const { rows } = await db.query("select version from storage where collection = 'race' and key = 'create'");
    assert.equal(rows.length, 1);
    assert.equal(rows[0].version, won[0]!.body.acks[0].version);
  });

  test('racing overwrites of one object by many clients all apply, the last one stays', async () => {
    const d = await newDevice(s.url);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => write(d.bearer, { collection: 'race', key: 'lww', value: `{"n":${i}}` })),
    );
    assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
    const { rows } = await db.query("select version from storage where collection = 'race' and key = 'lww'");
    assert.equal(rows.length, 1);
    assert.ok(results.some((r) => r.body.acks[0].version === rows[0].version));
  });
});

type PlanNode = { 'Node Type': string; 'Index Name'?: string; 'Index Cond'?: string; 'Relation Name'?: string; Plans?: PlanNode[] };
function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** Runs `fn` and returns the statements on the storage table that the server sent to PostgreSQL. */
async function captureStorageSql(fn: () => Promise<unknown>): Promise<{ text: string; values: unknown[] }[]> {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  const seen: { text: string; values: unknown[] }[] = [];
  proto.query = function (this: unknown, ...args: unknown[]) {
    const [q, values] = args;
    const text = typeof q === 'string' ? q : (q as { text?: string })?.text;
    if (text && /\bfrom storage\b/i.test(text) && !/^\s*explain/i.test(text))
      seen.push({ text, values: (Array.isArray(values) ? values : (q as { values?: unknown[] }).values) ?? [] });
    return original.apply(this, args);
  };
  try {
    await fn();
  } finally {
    proto.query = original;
  }
  return seen;
}

async function explain(stmt: { text: string; values: unknown[] }): Promise<PlanNode> {
  const { rows } = await db.query(`explain (format json) ${stmt.text}`, stmt.values);
  return (rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan;
}

const indexesUsed = (plan: PlanNode) => nodes(plan).flatMap((n) => (n['Index Name'] ? [n['Index Name']] : []));
const seqScans = (plan: PlanNode) => nodes(plan).filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'storage');

describe('query plans (the planner picks the indexes on its own)', () => {
  let owner: Awaited<ReturnType<typeof newDevice>>;
  let ownerId: string;

  before(async () => {
    owner = await newDevice(s.url);
    ownerId = (await http(s.url, 'GET', '/v2/account', { auth: owner.bearer })).body.user.id as string;
    // ~6,000 objects: 50 other owners × 60 keys in 'plan', 3,000 more in other collections; a tenth public.
    await db.query(`
      with users as materialized (select gen_random_uuid() as u from generate_series(1, 50))
      insert into storage (collection, key, user_id, value, version, read, write)
      select c, 'key-' || lpad(k::text, 4, '0'), u, '{}'::jsonb, md5(c || k || u), case when k % 10 = 0 then 2 else 1 end, 1
      from users,
           generate_series(1, 60) k,
           unnest(array['plan', 'other']) c`);
    await db.query(
      `
      insert into storage (collection, key, user_id, value, version, read, write)
      select 'plan', 'mine-' || lpad(k::text, 4, '0'), $1::uuid, '{}'::jsonb, md5(k::text), case when k % 10 = 0 then 2 else 1 end, 1
      from generate_series(1, 60) k`,
      [ownerId],
    );
    await db.query(`
      insert into storage (collection, key, user_id, value, version, read, write)
      select 'misc-' || (k % 20), 'k' || k, gen_random_uuid(), '{}'::jsonb, md5(k::text), 1, 1 from generate_series(1, 1000) k`);
    await db.query('analyze storage');
    const { rows } = await db.query('select count(*)::int as n from storage');
    assert.ok(rows[0].n >= 5000, `rows: ${rows[0].n}`);
  });

  // storage_user_list holds the same three columns as the primary key, in another order, so for a
  // point read the two cost exactly the same and PostgreSQL takes the newer index on the tie. Either
  // is one unique probe; what matters is that all three columns are in the index condition.
  test('reading by (collection, key, user_id) is one probe of the primary key (or its equal twin)', async () => {
    const stmts = await captureStorageSql(async () => {
      const r = await http(s.url, 'POST', '/v2/storage', {
        auth: owner.bearer,
        body: {
          object_ids: [
            { collection: 'plan', key: 'mine-0001', user_id: ownerId },
            { collection: 'plan', key: 'mine-0010', user_id: ownerId },
          ],
        },
      });
      assert.equal(r.status, 200);
      assert.equal(r.body.objects.length, 2);
    });
    assert.equal(stmts.length, 1, stmts.map((x) => x.text).join('\n'));
    const plan = await explain(stmts[0]!);
    const probe = nodes(plan).find((x) => x['Relation Name'] === 'storage');
    assert.ok(probe, JSON.stringify(plan));
    assert.equal(probe['Node Type'], 'Index Scan', JSON.stringify(plan));
    assert.ok(['storage_pkey', 'storage_user_list'].includes(probe['Index Name']!), JSON.stringify(plan));
    for (const column of ['collection', 'key', 'user_id'])
      assert.match(probe['Index Cond'] ?? '', new RegExp(`\\(?${column}\\)?(::text)? = q\\.${column}`));
    assert.deepEqual(seqScans(plan), []);
    // Without its twin, the primary key answers the same query.
    await db.query('begin');
    try {
      await db.query('drop index storage_user_list');
      const alone = await explain(stmts[0]!);
      assert.deepEqual(indexesUsed(alone), ['storage_pkey'], JSON.stringify(alone));
    } finally {
      await db.query('rollback');
    }
  });

  test("listing one user's objects uses storage_user_list", async () => {
    const stmts = await captureStorageSql(async () => {
      const r = await http(s.url, 'GET', `/v2/storage/plan/${ownerId}?limit=10`, { auth: owner.bearer });
      assert.equal(r.status, 200);
      assert.equal(r.body.objects.length, 10);
      assert.ok(r.body.cursor);
      const next = await http(s.url, 'GET', `/v2/storage/plan/${ownerId}?limit=10&cursor=${r.body.cursor}`, { auth: owner.bearer });
      assert.equal(next.body.objects[0].key, 'mine-0011');
    });
    assert.equal(stmts.length, 2);
    for (const stmt of stmts) {
      const plan = await explain(stmt);
      assert.ok(indexesUsed(plan).includes('storage_user_list'), JSON.stringify(plan));
      assert.deepEqual(seqScans(plan), []);
    }
  });

  test('listing public objects uses storage_public_list', async () => {
    const stmts = await captureStorageSql(async () => {
      const r = await http(s.url, 'GET', '/v2/storage/plan?limit=20', { auth: owner.bearer });
      assert.equal(r.status, 200);
      assert.equal(r.body.objects.length, 20);
      for (const o of r.body.objects) assert.equal(o.permission_read, 2);
      await http(s.url, 'GET', `/v2/storage/plan?limit=20&cursor=${r.body.cursor}`, { auth: owner.bearer });
    });
    assert.equal(stmts.length, 2);
    for (const stmt of stmts) {
      const plan = await explain(stmt);
      assert.ok(indexesUsed(plan).includes('storage_public_list'), JSON.stringify(plan));
      assert.deepEqual(seqScans(plan), []);
    }
  });
});
