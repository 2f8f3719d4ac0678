/**
 * Leaderboards with REDIS_URL: two Tavern processes on one database share the rank cache in Redis
 * (RedisRankCache). The same writes, in the same order, go to them (alternating) and to a server
 * without Redis (its own database, LocalRankCache); ranks, pages with cursors both ways, owner
 * records and records around owners read over HTTP must agree, from either Redis process.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisRankCache } from '../../src/services/redis-rank-cache.js';
import { http, newDevice, redisUrl, startTestServer, type TestServer } from '../support/server.js';
import { uniq } from '../support/wire.js';

let plain: TestServer;
let a: TestServer;
let b: TestServer;
let redis: Redis;
const auth: Record<string, string> = {};

before(async () => {
  plain = await startTestServer();
  a = await startTestServer({ redisUrl: redisUrl() });
  b = await startTestServer({ redisUrl: redisUrl() }, { databaseUrl: a.databaseUrl! });
  redis = new Redis(redisUrl());
  for (const [name, s] of Object.entries({ plain, a, b })) auth[name] = (await newDevice(s.url)).bearer;
});
after(async () => {
  await b?.stop();
  await a?.stop();
  await plain?.stop();
  await redis?.quit();
  // Colyseus's matchmaker is one per process: only the first server to stop shuts its presence
  // down, so the other's Redis connections are closed here.
  for (const s of [a, b]) {
    const presence = s?.presence as unknown as { pub?: Redis; sub?: Redis } | undefined;
    for (const c of [presence?.pub, presence?.sub]) if (c && c.status !== 'end') await c.quit().catch(() => undefined);
  }
});

/** A random generator that reproduces. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

type Row = [owner: string, score: string, subscore: string, numScore: number, rank: string];
const rows = (body: any): Row[] =>
  (body.records ?? []).map((r: any) => [r.owner_id, r.score ?? '0', r.subscore ?? '0', r.num_score ?? 0, r.rank]);
const ownerRows = (body: any): Row[] => rows({ records: body.owner_records });

async function get(server: TestServer, name: string, path: string) {
  const res = await http(server.url, 'GET', path, { auth: auth[name]! });
  assert.equal(res.status, 200, `${name} GET ${path}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Every page forward then backward with the cursors: the rows of each page, and which cursors came. */
async function walk(server: TestServer, name: string, id: string, limit: number) {
  const pages: { rows: Row[]; next: boolean; prev: boolean; count: string }[] = [];
  let body = await get(server, name, `/v2/leaderboard/${id}?limit=${limit}`);
  for (;;) {
    pages.push({ rows: rows(body), next: !!body.next_cursor, prev: !!body.prev_cursor, count: body.rank_count });
    if (!body.next_cursor) break;
    body = await get(server, name, `/v2/leaderboard/${id}?limit=${limit}&cursor=${body.next_cursor}`);
  }
  while (body.prev_cursor) {
    body = await get(server, name, `/v2/leaderboard/${id}?limit=${limit}&cursor=${body.prev_cursor}`);
    pages.push({ rows: rows(body), next: !!body.next_cursor, prev: !!body.prev_cursor, count: body.rank_count });
  }
  return pages;
}

/** Records around an owner, and the pages its cursors lead to. */
async function around(server: TestServer, name: string, id: string, owner: string, limit: number) {
  const body = await get(server, name, `/v2/leaderboard/${id}/owner/${owner}?limit=${limit}`);
  const follow = async (cursor?: string) =>
    cursor ? rows(await get(server, name, `/v2/leaderboard/${id}/owner/${owner}?limit=${limit}&cursor=${cursor}`)) : null;
  return {
    rows: rows(body),
    count: body.rank_count,
    next: await follow(body.next_cursor),
    prev: await follow(body.prev_cursor),
  };
}

describe('leaderboards with a Redis rank cache, two processes', () => {
  test('the servers use the Redis rank cache', () => {
    assert.ok(a.leaderboards.ranks instanceof RedisRankCache);
    assert.ok(b.leaderboards.ranks instanceof RedisRankCache);
    assert.ok(!(plain.leaderboards.ranks instanceof RedisRankCache));
  });

  for (const [sort, operator, schedule] of [
    ['descending', 'best', null],
    ['ascending', 'incr', '0 0 1 1 *'],
  ] as const) {
    test(`${sort} ${operator}${schedule ? ', yearly reset' : ''}: ranks, pages, owner records and around-owner match a server without Redis`, async () => {
      const id = uniq(`redis-${sort}-`);
      await plain.runtime.nk.leaderboardCreate(id, false, sort, operator, schedule);
      await a.runtime.nk.leaderboardCreate(id, false, sort, operator, schedule);
      const random = rng(sort === 'descending' ? 1 : 2);
      const owners = Array.from({ length: 120 }, () => randomUUID());
      // 400 writes with many ties and some deletions; the Redis side alternates between processes.
      for (let i = 0; i < 400; i++) {
        const owner = owners[Math.floor(random() * owners.length)]!;
        const redisSide = i % 2 ? a : b;
        if (random() < 0.08) {
          await plain.runtime.nk.leaderboardRecordDelete(id, owner);
          await redisSide.runtime.nk.leaderboardRecordDelete(id, owner);
          continue;
        }
        const [score, sub] = [Math.floor(random() * 20), Math.floor(random() * 3)];
        const p = await plain.runtime.nk.leaderboardRecordWrite(id, owner, null, score, sub);
        const r = await redisSide.runtime.nk.leaderboardRecordWrite(id, owner, null, score, sub);
        assert.deepEqual([r.score, r.subscore, r.numScore, r.rank], [p.score, p.subscore, p.numScore, p.rank], `write ${i}`);
      }

      const expected = await walk(plain, 'plain', id, 7);
      const total = Number(expected[0]!.count);
      assert.ok(total > 80, `${total} records`);
      assert.deepEqual(
        expected[0]!.rows.map((r) => r[4]),
        ['1', '2', '3', '4', '5', '6', '7'],
      );
      assert.deepEqual(await walk(a, 'a', id, 7), expected);
      assert.deepEqual(await walk(b, 'b', id, 7), expected);

      const some = owners.slice(0, 30);
      const q = `/v2/leaderboard/${id}?limit=5&owner_ids=${some.join('&owner_ids=')}`;
      const ownerExpected = ownerRows(await get(plain, 'plain', q));
      assert.deepEqual(ownerRows(await get(a, 'a', q)), ownerExpected);
      assert.deepEqual(ownerRows(await get(b, 'b', q)), ownerExpected);

      const ranked = expected.slice(0, Math.ceil(total / 7)).flatMap((p) => p.rows);
      const probes = [ranked[0]![0], ranked[1]![0], ranked[Math.floor(total / 2)]![0], ranked[total - 2]![0], ranked[total - 1]![0], randomUUID()];
      for (const owner of probes) {
        for (const limit of [1, 4, 5, 10]) {
          const want = await around(plain, 'plain', id, owner, limit);
          assert.deepEqual(await around(a, 'a', id, owner, limit), want, `around ${owner} limit ${limit} on a`);
          assert.deepEqual(await around(b, 'b', id, owner, limit), want, `around ${owner} limit ${limit} on b`);
        }
      }

      // The ranks live in Redis once for both processes, with the database's count.
      const board = await a.runtime.nk.leaderboardsGetId([id]);
      const expiry = schedule ? board[0]!.nextReset : 0;
      assert.equal(await redis.zcard(`tavern:lb:{${id}}:${expiry}`), total);
      assert.equal(await redis.get(`tavern:lbm:{${id}}:${expiry}`), 'ready');
      if (schedule) assert.ok((await redis.ttl(`tavern:lb:{${id}}:${expiry}`)) > 0);

      // Deleting the board from one process removes its keys.
      await b.runtime.nk.leaderboardDelete(id);
      assert.deepEqual(await redis.keys(`tavern:*{${id}}*`), []);
    });
  }

  test('a write in one process is ranked at once in the other; a deleted account leaves both', async () => {
    const id = uniq('redis-xproc-');
    await a.runtime.nk.leaderboardCreate(id, false, 'descending', 'best', null);
    const [x, y, z] = [randomUUID(), randomUUID(), randomUUID()];
    await a.runtime.nk.leaderboardRecordWrite(id, x, null, 30, 0);
    await a.runtime.nk.leaderboardRecordWrite(id, y, null, 20, 0);
    await a.runtime.nk.leaderboardRecordWrite(id, z, null, 10, 0);
    // b's first read finds the period ready in Redis (a loaded it when writing).
    assert.deepEqual(
      rows(await get(b, 'b', `/v2/leaderboard/${id}/owner/${z}?limit=3`)).map((r) => [r[0], r[4]]),
      [
        [x, '1'],
        [y, '2'],
        [z, '3'],
      ],
    );
    // A player of the shared database writes through b's HTTP API, then deletes their account through a.
    const player = await newDevice(b.url);
    const w = await http(b.url, 'POST', `/v2/leaderboard/${id}`, { auth: player.bearer, body: { score: '25' } });
    assert.equal(w.body.rank, '2');
    const me = (await http(a.url, 'GET', '/v2/account', { auth: player.bearer })).body.user.id as string;
    assert.deepEqual(
      rows(await get(a, 'a', `/v2/leaderboard/${id}?limit=10`)).map((r) => [r[0], r[4]]),
      [
        [x, '1'],
        [me, '2'],
        [y, '3'],
        [z, '4'],
      ],
    );
    assert.equal((await http(a.url, 'DELETE', '/v2/account', { auth: player.bearer })).status, 200);
    for (const [s, name] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      const body = await get(s, name, `/v2/leaderboard/${id}/owner/${y}?limit=2`);
      assert.deepEqual(
        rows(body).map((r) => [r[0], r[4]]),
        [
          [x, '1'],
          [y, '2'],
        ],
      );
      assert.equal(body.rank_count, '3');
    }
  });
});
