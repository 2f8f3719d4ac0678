/**
 * RedisRankCache against the real Redis the test runner starts: the same answers as LocalRankCache
 * under a long random sequence of operations, and the multi-process parts (one load per cluster,
 * concurrent writers, writes during a load, stale loaders, drops, Redis losing the keys). Each test
 * uses its own key prefix; several cache instances with one prefix play several processes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { LocalRankCache, rankKey, type RankCache, type RankEntry, type RankLoader } from '../../src/services/rank-cache.js';
import { RedisRankCache, type RedisRankCacheOptions } from '../../src/services/redis-rank-cache.js';
import { redisUrl } from '../support/server.js';

/** A small deterministic PRNG so failures reproduce. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

const admin = new Redis(redisUrl());
const caches: RedisRankCache[] = [];
after(async () => {
  for (const c of caches) await c.close();
  await admin.quit();
});

const newPrefix = () => `test:rrc:${randomUUID()}:`;
function cache(prefix: string, opts: RedisRankCacheOptions = {}): RedisRankCache {
  const c = new RedisRankCache(redisUrl(), { keyPrefix: prefix, ...opts });
  caches.push(c);
  return c;
}

const keysOf = async (prefix: string) => (await admin.keys(`${prefix}*`)).sort();

function uuid(random: () => number): string {
  let h = '';
  for (let i = 0; i < 32; i++) h += Math.floor(random() * 16).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A loader streaming entries (sorted here) in batches, counting its calls. */
function loader(entries: RankEntry[], batch = 1000, opts: { delayMs?: number; gate?: Promise<void>; fail?: boolean } = {}) {
  const sorted = [...entries].sort((a, b) => (a.key < b.key ? -1 : 1));
  const l = {
    calls: 0,
    load: async function* () {
      l.calls++;
      if (opts.gate) await opts.gate;
      for (let i = 0; i < sorted.length; i += batch) {
        if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
        if (opts.fail && i > 0) throw new Error('loader failed');
        yield sorted.slice(i, i + batch);
      }
    } as RankLoader,
  };
  return l;
}

describe('RedisRankCache', () => {
  test('matches LocalRankCache step by step under random upserts (stale versions too), removes and reads', async () => {
    const random = rng(7);
    const local = new LocalRankCache();
    const redis = cache(newPrefix());
    const both: RankCache[] = [local, redis];
    const board = 'parity';
    const owners = Array.from({ length: 5000 }, () => uuid(random));
    const state = new Map<string, { key: string; version: number }>();
    const newKey = (owner: string) =>
      rankKey(
        true,
        BigInt(Math.floor(random() * 500)),
        BigInt(Math.floor(random() * 3)),
        BigInt(1_700_000_000_000_000 + Math.floor(random() * 1e9)),
        owner,
      );
    const same = async <T>(what: string, f: (c: RankCache) => Promise<T>): Promise<T> => {
      const [a, b] = await Promise.all(both.map(f));
      assert.deepEqual(b, a, what);
      return a as T;
    };

    // Before loading: nothing is loaded and writes say so.
    assert.equal(await same('upsert before load', (c) => c.upsert(board, 0, owners[0]!, newKey(owners[0]!), 1)), 0);
    assert.equal(await same('count before load', (c) => c.count(board, 0)), 0);
    assert.equal(redis.has(board, 0), false);

    // 3,000 owners loaded in batches, then 20,000 random operations over 5,000 owners.
    for (const o of owners.slice(0, 3000)) state.set(o, { key: newKey(o), version: 1 + Math.floor(random() * 5) });
    const initial = [...state.values()].map((e) => ({ ...e }));
    for (const c of both) await c.ensure(board, 0, loader(initial, 700).load);
    assert.equal(redis.has(board, 0), true);
    assert.equal(await same('count after load', (c) => c.count(board, 0)), 3000);

    const counts = { upsert: 0, stale: 0, remove: 0, read: 0 };
    for (let step = 0; step < 20_000; step++) {
      const owner = owners[Math.floor(random() * owners.length)]!;
      const r = random();
      const cur = state.get(owner);
      if (r < 0.45) {
        // Mostly newer versions, sometimes equal or older (stale writes arriving late must be ignored).
        const v = random();
        const base = cur?.version ?? 0;
        const version = v < 0.15 ? Math.max(0, base - 1 - Math.floor(random() * 3)) : v < 0.2 ? base : base + 1 + Math.floor(random() * 3);
        const key = random() < 0.1 && cur ? cur.key : newKey(owner);
        if (cur && version < cur.version) counts.stale++;
        await same(`upsert ${step}`, (c) => c.upsert(board, 0, owner, key, version));
        if (!cur || version >= cur.version) state.set(owner, { key, version });
        counts.upsert++;
      } else if (r < 0.55) {
        await same(`remove ${step}`, (c) => c.remove(board, 0, owner));
        state.delete(owner);
        counts.remove++;
      } else {
        counts.read++;
        const n = await same(`count ${step}`, (c) => c.count(board, 0));
        if (r < 0.7) await same(`rankOf ${step}`, (c) => c.rankOf(board, 0, owner));
        else if (r < 0.8) {
          const key = cur && random() < 0.7 ? cur.key : newKey(owner);
          await same(`rankOfKey ${step}`, (c) => c.rankOfKey(board, 0, key));
        } else {
          const start = Math.floor(random() * (n + 20)) - 10;
          const end = start + Math.floor(random() * 30) - 5;
          await same(`range ${start}..${end}`, (c) => c.range(board, 0, start, end));
        }
      }
      if (step % 5000 === 4999) {
        const n = await same('count', (c) => c.count(board, 0));
        assert.equal(n, state.size);
        const all = await same('whole range', (c) => c.range(board, 0, 0, n - 1));
        assert.deepEqual(all, [...state.values()].map((e) => e.key).sort());
      }
    }
    assert.ok(counts.stale > 500 && counts.remove > 1000 && counts.read > 5000, JSON.stringify(counts));

    // A second, ending period and a second board; then the drops answer alike.
    for (const c of both) await c.ensure(board, 2000, loader(initial.slice(0, 100)).load);
    for (const c of both) await c.ensure('other', 0, loader(initial.slice(0, 10)).load);
    assert.equal(await same('period 2000', (c) => c.count(board, 2000)), 100);
    assert.equal(await same('dropExpired before the end', (c) => c.dropExpired(1999)), 0);
    assert.equal(await same('dropExpired at the end', (c) => c.dropExpired(2000)), 1);
    assert.equal(await same('dropped period', (c) => c.count(board, 2000)), 0);
    assert.equal(redis.has(board, 2000), false);
    await same('dropLeaderboard', (c) => c.dropLeaderboard(board));
    assert.equal(await same('dropped board', (c) => c.rankOf(board, 0, owners[1]!)), undefined);
    assert.equal(await same('other board', (c) => c.count('other', 0)), 10);
    assert.equal(redis.has(board, 0), false);
    assert.equal(redis.has('other', 0), true);
  });

  test('concurrent upserts of one owner from two processes keep one entry, the newest version', async () => {
    const prefix = newPrefix();
    const [a, b] = [cache(prefix), cache(prefix)];
    const random = rng(11);
    const others = Array.from({ length: 200 }, () => {
      const o = uuid(random);
      return { key: rankKey(false, BigInt(Math.floor(random() * 1000)), 0n, 1n, o), version: 1 };
    });
    const l = loader(others);
    await Promise.all([a.ensure('race', 0, l.load), b.ensure('race', 0, l.load)]);
    const owner = uuid(random);
    for (let round = 0; round < 5; round++) {
      // 200 writes with distinct versions and keys, in shuffled order, split between the processes.
      const writes = Array.from({ length: 200 }, (_, i) => ({
        version: round * 1000 + i,
        key: rankKey(false, BigInt(Math.floor(random() * 1000)), BigInt(i), BigInt(round * 1000 + i), owner),
      }));
      const shuffled = [...writes].sort(() => random() - 0.5);
      await Promise.all(shuffled.map((w, i) => (i % 2 ? a : b).upsert('race', 0, owner, w.key, w.version)));
      const newest = writes[writes.length - 1]!;
      for (const c of [a, b]) {
        assert.equal(await c.count('race', 0), others.length + 1);
        const rank = await c.rankOf('race', 0, owner);
        assert.equal(await c.rankOfKey('race', 0, newest.key), rank);
        assert.deepEqual(await c.range('race', 0, rank! - 1, rank! - 1), [newest.key]);
      }
      const members = await admin.zrange(`${prefix}lb:{race}:0`, 0, -1);
      assert.equal(members.filter((m) => m.endsWith(owner.replaceAll('-', ''))).length, 1);
      assert.equal(await admin.hget(`${prefix}lbo:{race}:0`, owner.replaceAll('-', '')), newest.key + newest.version);
      // A late, older write changes nothing.
      assert.equal(await a.upsert('race', 0, owner, writes[0]!.key, writes[0]!.version), await a.rankOf('race', 0, owner));
      assert.deepEqual(await a.range('race', 0, 0, 1000), await b.range('race', 0, 0, 1000));
    }
    assert.equal(l.calls, 1);
  });

  test('ensure() from two processes at once loads once; the other waits for the marker', async () => {
    const prefix = newPrefix();
    const [a, b, c] = [cache(prefix, { pollMs: 20 }), cache(prefix, { pollMs: 20 }), cache(prefix, { pollMs: 20 })];
    const random = rng(3);
    const entries = Array.from({ length: 5000 }, () => {
      const o = uuid(random);
      return { key: rankKey(true, BigInt(Math.floor(random() * 100)), 0n, 5n, o), version: 2 };
    });
    const l = loader(entries, 500, { delayMs: 10 });
    await Promise.all([a.ensure('once', 0, l.load), b.ensure('once', 0, l.load), a.ensure('once', 0, l.load), c.ensure('once', 0, l.load)]);
    assert.equal(l.calls, 1);
    for (const x of [a, b, c]) {
      assert.equal(x.has('once', 0), true);
      assert.equal(await x.count('once', 0), 5000);
    }
    assert.equal(await admin.get(`${prefix}lbm:{once}:0`), 'ready');
    // Later callers (a fourth process) see it ready and load nothing.
    await cache(prefix).ensure('once', 0, l.load);
    assert.equal(l.calls, 1);
  });

  test('a failed load is given up and the next caller loads; a dead loader is replaced after its lease', async () => {
    const prefix = newPrefix();
    const [a, b] = [cache(prefix, { pollMs: 20, leaseMs: 300 }), cache(prefix, { pollMs: 20, leaseMs: 300 })];
    const entries = [{ key: rankKey(true, 5n, 0n, 1n, randomUUID()), version: 1 }];
    const failing = loader([...entries, { key: rankKey(true, 4n, 0n, 1n, randomUUID()), version: 1 }], 1, { fail: true });
    await assert.rejects(a.ensure('fail', 0, failing.load), /loader failed/);
    assert.equal(a.has('fail', 0), false);
    assert.deepEqual(await keysOf(prefix), []);
    const good = loader(entries);
    await b.ensure('fail', 0, good.load);
    assert.equal(good.calls, 1);
    assert.equal(await a.count('fail', 0), 1);

    // A loader that died holding the marker: the others wait out its lease, then load.
    await admin.set(`${prefix}lbm:{dead}:0`, 'loading:dead-process', 'PX', 400);
    const t = Date.now();
    const l = loader(entries);
    await Promise.all([a.ensure('dead', 0, l.load), b.ensure('dead', 0, l.load)]);
    assert.ok(Date.now() - t >= 350, `waited ${Date.now() - t} ms`);
    assert.equal(l.calls, 1);
    assert.equal(await b.count('dead', 0), 1);
  });

  test('writes and removals that arrive while another process loads are applied over its snapshot', async () => {
    const prefix = newPrefix();
    const [a, b] = [cache(prefix, { pollMs: 20 }), cache(prefix, { pollMs: 20 })];
    const [x, y, z] = [randomUUID(), randomUUID(), randomUUID()];
    const snapshot = [
      { key: rankKey(true, 10n, 0n, 1n, x), version: 1 },
      { key: rankKey(true, 20n, 0n, 1n, y), version: 3 },
      { key: rankKey(true, 30n, 0n, 1n, z), version: 1 },
    ];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const loading = a.ensure('pending', 0, loader(snapshot, 1000, { gate }).load);
    while ((await admin.get(`${prefix}lbm:{pending}:0`)) === null) await new Promise((r) => setTimeout(r, 5));
    // Committed after the snapshot: x improved, y's older write arrives late, z deleted.
    const x2 = rankKey(true, 50n, 0n, 2n, x);
    assert.equal(await b.upsert('pending', 0, x, x2, 2), 0);
    assert.equal(await b.upsert('pending', 0, y, rankKey(true, 1n, 0n, 1n, y), 2), 0);
    await b.remove('pending', 0, z);
    assert.equal(b.has('pending', 0), false);
    open();
    await loading;
    await b.ensure('pending', 0, loader([]).load);
    assert.deepEqual(await b.range('pending', 0, 0, 10), [x2, snapshot[1]!.key]);
    assert.equal(await a.rankOf('pending', 0, z), undefined);
    assert.equal(await admin.exists(`${prefix}lbq:{pending}:0`), 0);
  });

  test('dropLeaderboard and dropExpired remove the Redis keys; ending periods carry a TTL', async () => {
    const prefix = newPrefix();
    const [a, b] = [cache(prefix), cache(prefix)];
    const entries = [{ key: rankKey(true, 5n, 0n, 1n, randomUUID()), version: 1 }];
    const now = Math.floor(Date.now() / 1000);
    for (const [board, expiry] of [
      ['gone', 0],
      ['gone', now + 100],
      ['kept', 0],
      ['kept', now + 100],
      ['kept', now + 200],
    ] as const)
      await a.ensure(board, expiry, loader(entries).load);
    await b.ensure('kept', now + 100, loader(entries).load);
    assert.equal(await admin.ttl(`${prefix}lb:{kept}:0`), -1);
    const ttl = await admin.ttl(`${prefix}lb:{kept}:${now + 100}`);
    assert.ok(ttl > 3600 && ttl <= 3700, `ttl ${ttl}`);
    assert.equal(await admin.ttl(`${prefix}lbm:{kept}:${now + 100}`), ttl);

    await b.dropLeaderboard('gone');
    assert.deepEqual(
      (await keysOf(prefix)).filter((k) => k.includes('{gone}')),
      [],
    );

    assert.equal(await b.dropExpired(now + 150), 1);
    assert.equal(await a.dropExpired(now + 150), 0); // b already removed the keys
    assert.equal(a.has('kept', now + 100), false);
    assert.equal(b.has('kept', now + 100), false);
    assert.deepEqual(await keysOf(prefix), [
      `${prefix}lb:{kept}:0`,
      `${prefix}lb:{kept}:${now + 200}`,
      `${prefix}lbm:{kept}:0`,
      `${prefix}lbm:{kept}:${now + 200}`,
      `${prefix}lbo:{kept}:0`,
      `${prefix}lbo:{kept}:${now + 200}`,
      `${prefix}lbp:{kept}`,
      `${prefix}lbx`,
    ]);
    assert.deepEqual(await admin.smembers(`${prefix}lbp:{kept}`).then((s) => s.sort()), ['0', String(now + 200)]);
    assert.equal(await a.dropExpired(now + 300), 1);
    assert.deepEqual(await keysOf(prefix), [
      `${prefix}lb:{kept}:0`,
      `${prefix}lbm:{kept}:0`,
      `${prefix}lbo:{kept}:0`,
      `${prefix}lbp:{kept}`,
    ]);
  });

  test('a period Redis lost is loaded again on the next read, and writes fall back meanwhile', async () => {
    const prefix = newPrefix();
    const a = cache(prefix);
    const owner = randomUUID();
    const entries = [
      { key: rankKey(true, 5n, 0n, 1n, owner), version: 1 },
      { key: rankKey(true, 9n, 0n, 1n, randomUUID()), version: 1 },
    ];
    const l = loader(entries);
    await a.ensure('lost', 0, l.load);
    assert.equal(await a.rankOf('lost', 0, owner), 2);
    await admin.del(...(await keysOf(prefix)));
    assert.equal(await a.rankOf('lost', 0, owner), 2);
    assert.equal(l.calls, 2);
    // Concurrent reads of a lost period share one reload.
    await admin.del(...(await keysOf(prefix)));
    assert.deepEqual(
      await Promise.all([
        a.rankOf('lost', 0, owner),
        a.count('lost', 0),
        a.range('lost', 0, 0, 5),
        a.rankOfKey('lost', 0, entries[0]!.key),
      ]),
      [2, 2, [entries[1]!.key, entries[0]!.key], 2],
    );
    assert.equal(l.calls, 3);
    await admin.del(...(await keysOf(prefix)));
    assert.equal(await a.upsert('lost', 0, owner, rankKey(true, 50n, 0n, 1n, owner), 2), 0);
    assert.equal(a.has('lost', 0), false);
  });
});
