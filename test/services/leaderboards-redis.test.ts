/**
 * Leaderboards with REDIS_URL, over HTTP. The same writes, in the same order, go first to a server
 * without Redis (LocalRankCache) and then to a server with Redis (RedisRankCache) plus a second
 * "process" on the same database and Redis (its own ORM and RedisRankCache, calling the services),
 * the writes alternating between the two; write ranks, pages with cursors both ways, owner records
 * and records around owners must come out the same. The servers run one after the other: Colyseus's
 * matchmaker is one per process, so two Tavern servers cannot run side by side in one test process.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { openOrm, type Orm } from '../../src/db/orm.js';
import type { Em } from '../../src/services/db.js';
import { deleteLeaderboardRecord, writeLeaderboardRecord, type RecordView } from '../../src/services/leaderboard-records.js';
import { recordsAroundOwner } from '../../src/services/leaderboard-reads.js';
import { mustGetLeaderboard, type LeaderboardPorts } from '../../src/services/leaderboards.js';
import { systemClock } from '../../src/services/ports.js';
import { RedisRankCache } from '../../src/services/redis-rank-cache.js';
import { http, newDevice, redisUrl, startTestServer, type TestServer } from '../support/server.js';
import { uniq } from '../support/wire.js';

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
const viewRows = (records: RecordView[]): Row[] =>
  records.map((r) => [r.ownerId, String(r.score), String(r.subscore), r.numScore, String(r.rank)]);

/** One Tavern to read from over HTTP, and how writes reach it (the Redis side alternates processes). */
interface Side {
  server: TestServer;
  bearer: string;
  write(i: number, id: string, owner: string, score: number, subscore: number): Promise<[number, number, number, number]>;
  remove(i: number, id: string, owner: string): Promise<void>;
}

async function get(side: Side, path: string) {
  const res = await http(side.server.url, 'GET', path, { auth: side.bearer });
  assert.equal(res.status, 200, `GET ${path}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Every page forward then backward with the cursors: the rows of each page, and which cursors came. */
async function walk(side: Side, id: string, limit: number) {
  const pages: { rows: Row[]; next: boolean; prev: boolean; count: string }[] = [];
  let body = await get(side, `/v2/leaderboard/${id}?limit=${limit}`);
  for (;;) {
    pages.push({ rows: rows(body), next: !!body.next_cursor, prev: !!body.prev_cursor, count: body.rank_count });
    if (!body.next_cursor) break;
    body = await get(side, `/v2/leaderboard/${id}?limit=${limit}&cursor=${body.next_cursor}`);
  }
  while (body.prev_cursor) {
    body = await get(side, `/v2/leaderboard/${id}?limit=${limit}&cursor=${body.prev_cursor}`);
    pages.push({ rows: rows(body), next: !!body.next_cursor, prev: !!body.prev_cursor, count: body.rank_count });
  }
  return pages;
}

/** Records around an owner, and the pages its cursors lead to. */
async function around(side: Side, id: string, owner: string, limit: number) {
  const path = `/v2/leaderboard/${id}/owner/${owner}?limit=${limit}`;
  const body = await get(side, path);
  const follow = async (cursor?: string) => (cursor ? rows(await get(side, `${path}&cursor=${cursor}`)) : null);
  return { rows: rows(body), count: body.rank_count, next: await follow(body.next_cursor), prev: await follow(body.prev_cursor) };
}

interface Scenario {
  name: string;
  id: string;
  sort: 'descending' | 'ascending';
  operator: 'best' | 'incr';
  schedule: string | null;
  seed: number;
  owners: string[];
}

const scenarios: Scenario[] = [
  { name: 'descending best', sort: 'descending', operator: 'best', schedule: null, seed: 1 },
  { name: 'ascending incr, yearly reset', sort: 'ascending', operator: 'incr', schedule: '0 0 1 1 *', seed: 2 },
].map((s) => ({ ...s, id: uniq(`redis-${s.sort}-`), owners: Array.from({ length: 120 }, () => randomUUID()) }) as Scenario);

/** Applies a scenario's writes to one side and reads everything back. */
async function play(side: Side, sc: Scenario) {
  await side.server.runtime.nk.leaderboardCreate(sc.id, false, sc.sort, sc.operator, sc.schedule);
  const random = rng(sc.seed);
  const writes: unknown[] = [];
  // 400 writes with many ties, and some deletions.
  for (let i = 0; i < 400; i++) {
    const owner = sc.owners[Math.floor(random() * sc.owners.length)]!;
    if (random() < 0.08) {
      await side.remove(i, sc.id, owner);
      continue;
    }
    writes.push(await side.write(i, sc.id, owner, Math.floor(random() * 20), Math.floor(random() * 3)));
  }
  const pages = await walk(side, sc.id, 7);
  const total = Number(pages[0]!.count);
  const ranked = pages.slice(0, Math.ceil(total / 7)).flatMap((p) => p.rows);
  const some = sc.owners.slice(0, 30);
  const owners = rows({
    records: (await get(side, `/v2/leaderboard/${sc.id}?limit=5&owner_ids=${some.join('&owner_ids=')}`)).owner_records,
  });
  const probes = [0, 1, Math.floor(total / 2), total - 2, total - 1].map((i) => ranked[i]![0]).concat(sc.owners.slice(-3));
  const arounds: Record<string, unknown> = {};
  for (const owner of probes) for (const limit of [1, 4, 5, 10]) arounds[`${owner} ${limit}`] = await around(side, sc.id, owner, limit);
  return { writes, pages, total, owners, arounds, probes };
}

const expected = new Map<string, Awaited<ReturnType<typeof play>>>();
let a: TestServer;
let orm: Orm;
let b: LeaderboardPorts & { ranks: RedisRankCache };
let redis: Redis;
let redisSide: Side;

before(async () => {
  // The answers of a server without Redis first, then that server stops.
  const plain = await startTestServer();
  try {
    const side: Side = {
      server: plain,
      bearer: (await newDevice(plain.url)).bearer,
      async write(_i, id, owner, score, subscore) {
        const r = await plain.runtime.nk.leaderboardRecordWrite(id, owner, null, score, subscore);
        return [Number(r.score), Number(r.subscore), r.numScore, r.rank];
      },
      remove: (_i, id, owner) => plain.runtime.nk.leaderboardRecordDelete(id, owner),
    };
    for (const sc of scenarios) expected.set(sc.name, await play(side, sc));
  } finally {
    await plain.stop();
  }
  a = await startTestServer({ redisUrl: redisUrl() });
  // The second process: its own connections and rank cache on a's database and Redis.
  orm = await openOrm({ url: a.databaseUrl!, poolSize: 4, logger: pino({ level: 'silent' }) });
  b = { clock: systemClock, ranks: new RedisRankCache(redisUrl()) };
  redis = new Redis(redisUrl());
  redisSide = {
    server: a,
    bearer: (await newDevice(a.url)).bearer,
    async write(i, id, owner, score, subscore) {
      if (i % 2 === 0) {
        const r = await a.runtime.nk.leaderboardRecordWrite(id, owner, null, score, subscore);
        return [Number(r.score), Number(r.subscore), r.numScore, r.rank];
      }
      const r = await writeLeaderboardRecord(em(), b, await mustGetLeaderboard(em(), id), 'server', {
        ownerId: owner,
        score: BigInt(score),
        subscore: BigInt(subscore),
      });
      return [Number(r.score), Number(r.subscore), r.numScore, r.rank];
    },
    async remove(i, id, owner) {
      if (i % 2 === 0) await a.runtime.nk.leaderboardRecordDelete(id, owner);
      else await deleteLeaderboardRecord(em(), b, await mustGetLeaderboard(em(), id), 'server', owner);
    },
  };
});
after(async () => {
  await a?.stop();
  await b?.ranks.close();
  await orm?.close(true);
  await redis?.quit();
});

const em = () => orm.em.fork() as unknown as Em;

describe('leaderboards with a Redis rank cache', () => {
  test('the server uses the Redis rank cache', () => {
    assert.ok(a.leaderboards.ranks instanceof RedisRankCache);
  });

  for (const sc of scenarios) {
    test(`${sc.name}: write ranks, pages, owner records and around-owner match a server without Redis`, async () => {
      const want = expected.get(sc.name)!;
      assert.ok(want.total > 80, `${want.total} records`);
      assert.deepEqual(
        want.pages[0]!.rows.map((r) => r[4]),
        ['1', '2', '3', '4', '5', '6', '7'],
      );
      const got = await play(redisSide, sc);
      assert.deepEqual(got.writes, want.writes, 'the ranks writes answered');
      assert.deepEqual(got.pages, want.pages, 'pages forward and back');
      assert.deepEqual(got.owners, want.owners, 'owner records');
      assert.deepEqual(got.arounds, want.arounds, 'around owners, and their cursors');

      // The other process answers the same from the shared cache.
      const board = await mustGetLeaderboard(em(), sc.id);
      for (const owner of want.probes) {
        const list = await recordsAroundOwner(em(), b, board, owner, 5);
        assert.deepEqual(viewRows(list.records), (want.arounds[`${owner} 5`] as { rows: Row[] }).rows);
      }
      // The ranks live once in Redis, for both processes, with the database's count.
      const expiry = sc.schedule ? (await a.runtime.nk.leaderboardsGetId([sc.id]))[0]!.nextReset : 0;
      assert.equal(await redis.zcard(`tavern:lb:{${sc.id}}:${expiry}`), want.total);
      assert.equal(await redis.get(`tavern:lbm:{${sc.id}}:${expiry}`), 'ready');
      assert.equal(await b.ranks.count(sc.id, expiry), want.total);
      if (sc.schedule) assert.ok((await redis.ttl(`tavern:lb:{${sc.id}}:${expiry}`)) > 0);
      // Deleting the board removes its keys.
      await a.runtime.nk.leaderboardDelete(sc.id);
      assert.deepEqual(await redis.keys(`tavern:*{${sc.id}}*`), []);
    });
  }

  test('a write in one process is ranked at once in the other; a deleted account leaves both', async () => {
    const id = uniq('redis-xproc-');
    await a.runtime.nk.leaderboardCreate(id, false, 'descending', 'best', null);
    const [x, y, z] = [randomUUID(), randomUUID(), randomUUID()];
    const board = await mustGetLeaderboard(em(), id);
    // The second process loads the period and writes; the server reads it over HTTP.
    for (const [o, score] of [
      [x, 30n],
      [y, 20n],
      [z, 10n],
    ] as const)
      await writeLeaderboardRecord(em(), b, board, 'server', { ownerId: o, score, subscore: 0n });
    const three = [
      [x, '1'],
      [y, '2'],
      [z, '3'],
    ];
    assert.deepEqual(
      rows(await get(redisSide, `/v2/leaderboard/${id}/owner/${z}?limit=3`)).map((r) => [r[0], r[4]]),
      three,
    );
    // A player writes over HTTP; the other process ranks it; the player deletes their account.
    const player = await newDevice(a.url);
    const w = await http(a.url, 'POST', `/v2/leaderboard/${id}`, { auth: player.bearer, body: { score: '25' } });
    assert.equal(w.body.rank, '2');
    const me = w.body.owner_id as string;
    assert.deepEqual(
      viewRows((await recordsAroundOwner(em(), b, board, me, 10)).records).map((r) => [r[0], r[4]]),
      [[x, '1'], [me, '2'], ...three.slice(1).map(([o, r]) => [o, String(Number(r) + 1)])],
    );
    assert.equal((await http(a.url, 'DELETE', '/v2/account', { auth: player.bearer })).status, 200);
    assert.deepEqual(
      viewRows((await recordsAroundOwner(em(), b, board, y, 3)).records).map((r) => [r[0], r[4]]),
      three,
    );
    assert.equal(await b.ranks.count(id, 0), 3);
    // And a deletion in the other process shows over HTTP.
    await deleteLeaderboardRecord(em(), b, board, 'server', x);
    const body = await get(redisSide, `/v2/leaderboard/${id}?limit=10`);
    assert.deepEqual(
      rows(body).map((r) => [r[0], r[4]]),
      [
        [y, '1'],
        [z, '2'],
      ],
    );
    assert.equal(body.rank_count, '2');
  });
});
