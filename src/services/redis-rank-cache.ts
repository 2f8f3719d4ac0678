/**
 * The leaderboard rank cache shared by several processes, in Redis (REDIS_URL). Same contract and
 * same answers as `LocalRankCache` (src/services/rank-cache.ts, whose file comment gives the rank
 * key); the state lives in Redis, so every process sees every other process's writes.
 *
 * Keys of one period (leaderboard id L, period expiry E, prefix P, default `tavern:`); the braces
 * put a board's keys on one cluster slot, so each script touches one slot:
 *
 *   P lb:{L}:E    sorted set, every member at score 0, the 80-char rank keys as members: Redis then
 *                 orders them byte by byte, as the board ranks (ZRANK + 1 is the rank, ZRANGE by
 *                 index the neighbourhood, ZCARD the rank count)
 *   P lbo:{L}:E   hash, owner (32 hex digits, the key's last part) → its key followed by its
 *                 version (the record's num_score), as the loader streams them
 *   P lbm:{L}:E   marker: `loading:<token>` while one process loads the period (a lease that its
 *                 loader renews), `ready` once loaded; absent: not loaded anywhere
 *   P lbq:{L}:E   hash, writes and removals that arrived while the period was loading (owner → key
 *                 and version, or '' for a removal), applied when the load is handed over
 *   P lbp:{L}     set of the board's periods (expiries) that have keys, for dropLeaderboard
 *   P lbx         sorted set of every loaded period that ends (score: expiry, member `E:L`), for
 *                 dropExpired
 *
 * Writes are Lua scripts, so each one is atomic: upsert reads the owner's key and version, ignores
 * an older version than the one stored (and answers the stored key's rank), else removes the old
 * key, adds the new one and stores it, and answers ZRANK + 1. Reads check the marker in the same
 * script, so a period that vanished from Redis (flushed, expired, dropped by another process) is
 * noticed instead of answered as empty: the process loads it again (with the loader its last
 * ensure() got) and reads once more; a write falls back to SQL and the next ensure() reloads.
 *
 * Loading happens once per cluster: the first process to SET NX the marker loads the period from
 * PostgreSQL into temporary keys and, if its lease still holds, renames them into place and sets the
 * marker to `ready` in one script. Other processes poll the marker until it reads `ready`; when it
 * disappears (the loader failed, or died and its lease ran out) one of them claims it and loads.
 * Writes that reach Redis while a period loads are kept in the pending hash and applied over the
 * loaded snapshot at the handover (the snapshot may predate them), so none is lost.
 *
 * Periods that end are dropped by `dropExpired` (every process's scheduler calls it); as a backstop
 * their keys also carry a TTL until `graceSec` after the end (relative to the real time and never
 * shorter than `graceSec`, so a test clock set in the past can't make them vanish early). Redis
 * must not evict these keys (maxmemory-policy noeviction, or no maxmemory): an evicted member
 * would silently drop a rank. About 370 bytes of Redis memory per record (1,000,000: ~374 MB).
 *
 * `has()` must answer synchronously, so it reads a process-local set: a period is in it once this
 * process's `ensure()` saw it ready in Redis (loaded here or by another process) and until this
 * process drops it or a call finds it gone from Redis. Other calls don't consult that set: they
 * answer from Redis whenever the period is ready there.
 */
import { randomUUID } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import type { RankCache, RankEntry, RankLoader } from './rank-cache.js';

export interface RedisRankCacheOptions {
  /** Prepended to every key (default `tavern:`); tests give each cache its own. */
  keyPrefix?: string;
  /** How long a loader's claim lasts without renewal (ms); a dead loader is replaced after it. */
  leaseMs?: number;
  /** How often a process waiting for another's load looks at the marker (ms, at most). */
  pollMs?: number;
  /** How long a period's keys outlive its end when nobody drops them (s). */
  graceSec?: number;
  /** Entries per ZADD / HSET while loading. */
  chunk?: number;
  /** Connection errors of a connection this cache opened (ioredis reconnects by itself). */
  onError?: (err: Error) => void;
}

import { CLAIM, COUNT, HANDOVER, RANGE, RANK_OF, RANK_OF_KEY, RELEASE, REMOVE, RENEW, UPSERT, type Script } from './redis-rank-scripts.js';
/** A read found the period gone from Redis and could not load it again. */
export class RankCacheGoneError extends Error {
  constructor(leaderboardId: string, expiry: number) {
    super(`rank cache of leaderboard ${JSON.stringify(leaderboardId)} period ${expiry} is gone from Redis`);
    this.name = 'RankCacheGoneError';
  }
}

/** A period's keys (a load also writes to `<set>:load:<token>` and `<owners>:load:<token>`). */
interface PeriodKeys {
  set: string;
  owners: string;
  marker: string;
  pending: string;
  periods: string;
}

const periodId = (leaderboardId: string, expiry: number) => `${expiry}:${leaderboardId}`;
/** What a read script's answer becomes when the period is not ready in Redis. */
const NOT_READY = Symbol('not ready');
const hexOf = (ownerId: string) => ownerId.replaceAll('-', '');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** Temporary keys of a load live this long after their last write (ms). */
const LOAD_KEYS_TTL_MS = 10 * 60_000;

/** The Redis rank cache (see the file comment). */
export class RedisRankCache implements RankCache {
  private readonly redis: Redis | Cluster;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly graceSec: number;
  private readonly chunk: number;
  /** Periods this process saw ready, with the loader it was given (to load again if Redis lost them). */
  private readonly loaded = new Map<string, RankLoader>();
  /** This process's ensure() calls in progress, shared by concurrent callers. */
  private readonly inflight = new Map<string, Promise<void>>();
  private closed = false;

  /** `redis`: a URL (the cache opens and closes its connection) or a client the caller owns. */
  constructor(redis: string | Redis | Cluster, opts: RedisRankCacheOptions = {}) {
    if (typeof redis === 'string') {
      const client = new Redis(redis);
      client.on('error', (err: Error) => opts.onError?.(err));
      this.redis = client;
      this.owned = true;
    } else {
      this.redis = redis;
      this.owned = false;
    }
    this.prefix = opts.keyPrefix ?? 'tavern:';
    this.leaseMs = opts.leaseMs ?? 15_000;
    this.pollMs = opts.pollMs ?? 100;
    this.graceSec = opts.graceSec ?? 3600;
    this.chunk = opts.chunk ?? 1000;
  }

  /** Closes the connection if this cache opened it; waiting ensure() calls then fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.owned) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private keys(leaderboardId: string, expiry: number): PeriodKeys {
    const p = this.prefix;
    const tag = `{${leaderboardId}}:${expiry}`;
    return {
      set: `${p}lb:${tag}`,
      owners: `${p}lbo:${tag}`,
      marker: `${p}lbm:${tag}`,
      pending: `${p}lbq:${tag}`,
      periods: `${p}lbp:{${leaderboardId}}`,
    };
  }

  private get registry() {
    return `${this.prefix}lbx`;
  }

  private async run(s: Script, ...args: (string | number)[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(s.sha, s.keys, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return this.redis.eval(s.lua, s.keys, ...args);
    }
  }

  async ensure(leaderboardId: string, expiry: number, load: RankLoader): Promise<void> {
    const id = periodId(leaderboardId, expiry);
    if (this.loaded.has(id)) return;
    let p = this.inflight.get(id);
    if (!p) {
      p = this.acquire(leaderboardId, expiry, load).finally(() => this.inflight.delete(id));
      this.inflight.set(id, p);
    }
    return p;
  }

  /** Waits for the period to be ready in Redis, loading it if no other process does. */
  private async acquire(leaderboardId: string, expiry: number, load: RankLoader): Promise<void> {
    const k = this.keys(leaderboardId, expiry);
    let wait = Math.min(10, this.pollMs);
    let lost = false;
    for (;;) {
      if (this.closed) throw new Error('rank cache closed');
      const token = `loading:${randomUUID()}`;
      const state = await this.run(CLAIM, k.marker, k.periods, k.pending, token, this.leaseMs, expiry);
      if (state === 'ready') {
        this.loaded.set(periodId(leaderboardId, expiry), load);
        return;
      }
      if (state === 'claimed') {
        // After a lost claim, claim again only if nobody else holds it now (the board may be gone).
        if (lost) {
          await this.run(RELEASE, k.marker, `${k.set}:load:${token}`, `${k.owners}:load:${token}`, k.periods, k.pending, token, expiry);
          return;
        }
        if (await this.loadPeriod(leaderboardId, expiry, k, token, load)) {
          this.loaded.set(periodId(leaderboardId, expiry), load);
          return;
        }
        lost = true;
        continue;
      }
      await sleep(wait);
      wait = Math.min(this.pollMs, wait * 2);
    }
  }

  /** Loads a claimed period into temporary keys and hands them over; false if the claim was lost. */
  private async loadPeriod(leaderboardId: string, expiry: number, k: PeriodKeys, token: string, load: RankLoader): Promise<boolean> {
    const loadSet = `${k.set}:load:${token}`;
    const loadOwners = `${k.owners}:load:${token}`;
    let ours = true;
    const renewal = setInterval(
      () => {
        this.run(RENEW, k.marker, loadSet, loadOwners, token, this.leaseMs, LOAD_KEYS_TTL_MS).then(
          (r) => {
            if (r !== 1) ours = false;
          },
          () => undefined,
        );
      },
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    renewal.unref();
    try {
      let writing: Promise<void> = Promise.resolve();
      for await (const batch of load()) {
        await writing;
        if (!ours || this.closed) break;
        writing = this.write(loadSet, loadOwners, batch);
      }
      await writing;
      if (!ours || this.closed) {
        await this.run(RELEASE, k.marker, loadSet, loadOwners, k.periods, k.pending, token, expiry);
        if (this.closed) throw new Error('rank cache closed');
        return false;
      }
      const ttl = expiry === 0 ? 0 : Math.max(0, expiry - Math.floor(Date.now() / 1000)) + this.graceSec;
      const handed = await this.run(HANDOVER, k.marker, loadSet, loadOwners, k.set, k.owners, k.pending, k.periods, token, ttl, expiry);
      if (handed !== 1) return false;
      if (expiry !== 0) await this.redis.zadd(this.registry, expiry, periodId(leaderboardId, expiry));
      return true;
    } catch (err) {
      await this.run(RELEASE, k.marker, loadSet, loadOwners, k.periods, k.pending, token, expiry).catch(() => undefined);
      throw err;
    } finally {
      clearInterval(renewal);
    }
  }

  private async write(loadSet: string, loadOwners: string, batch: RankEntry[]): Promise<void> {
    const pipe = this.redis.pipeline();
    for (let i = 0; i < batch.length; i += this.chunk) {
      const part = batch.slice(i, i + this.chunk);
      const members: (string | number)[] = [];
      const fields: string[] = [];
      for (const e of part) {
        members.push(0, e.key);
        fields.push(e.key.slice(48), e.key + e.version);
      }
      pipe.zadd(loadSet, ...members);
      pipe.hset(loadOwners, ...fields);
    }
    pipe.pexpire(loadSet, LOAD_KEYS_TTL_MS);
    pipe.pexpire(loadOwners, LOAD_KEYS_TTL_MS);
    const results = (await pipe.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
  }

  /**
   * Whether this process saw the period ready in Redis (its ensure() loaded it or found it loaded)
   * and has not since dropped it or found it gone. Other processes may hold periods this one doesn't.
   */
  has(leaderboardId: string, expiry: number): boolean {
    return this.loaded.has(periodId(leaderboardId, expiry));
  }

  /**
   * Runs a read script; `NOT_READY` from it means the period is not ready in Redis. If this process
   * had it, Redis lost it (flushed, evicted, dropped by another process): load it again with the
   * last loader and read once more. Otherwise the period is simply not loaded: `absent`.
   */
  private async read<T>(leaderboardId: string, expiry: number, absent: T, query: () => Promise<T | typeof NOT_READY>): Promise<T> {
    const first = await query();
    if (first !== NOT_READY) return first;
    const id = periodId(leaderboardId, expiry);
    const load = this.loaded.get(id);
    if (load) {
      this.loaded.delete(id);
      await this.ensure(leaderboardId, expiry, load);
    } else {
      // Not ours, unless a concurrent read of this process is loading it again right now.
      const reloading = this.inflight.get(id);
      if (!reloading) return absent;
      await reloading;
    }
    const again = this.has(leaderboardId, expiry) ? await query() : NOT_READY;
    if (again === NOT_READY) throw new RankCacheGoneError(leaderboardId, expiry);
    return again;
  }

  async upsert(leaderboardId: string, expiry: number, ownerId: string, key: string, version: number): Promise<number> {
    const k = this.keys(leaderboardId, expiry);
    const r = Number(await this.run(UPSERT, k.set, k.owners, k.marker, k.pending, hexOf(ownerId), key, version));
    // Not ready in Redis: the caller counts the rank in SQL, and the next ensure() waits or reloads.
    if (r <= 0) this.loaded.delete(periodId(leaderboardId, expiry));
    return Math.max(0, r);
  }

  async remove(leaderboardId: string, expiry: number, ownerId: string): Promise<void> {
    // Always sent: another process may hold the period even if this one never loaded it.
    const k = this.keys(leaderboardId, expiry);
    await this.run(REMOVE, k.set, k.owners, k.marker, k.pending, hexOf(ownerId));
  }

  async rankOf(leaderboardId: string, expiry: number, ownerId: string): Promise<number | undefined> {
    const k = this.keys(leaderboardId, expiry);
    return this.read(leaderboardId, expiry, undefined, async () => {
      const r = Number(await this.run(RANK_OF, k.set, k.owners, k.marker, hexOf(ownerId)));
      return r < 0 ? NOT_READY : r === 0 ? undefined : r;
    });
  }

  async rankOfKey(leaderboardId: string, expiry: number, key: string): Promise<number | undefined> {
    const k = this.keys(leaderboardId, expiry);
    return this.read(leaderboardId, expiry, undefined, async () => {
      const r = Number(await this.run(RANK_OF_KEY, k.set, k.marker, key));
      return r < 0 ? NOT_READY : r === 0 ? undefined : r;
    });
  }

  async count(leaderboardId: string, expiry: number): Promise<number> {
    const k = this.keys(leaderboardId, expiry);
    return this.read(leaderboardId, expiry, 0, async () => {
      const r = Number(await this.run(COUNT, k.set, k.marker));
      return r < 0 ? NOT_READY : r;
    });
  }

  async range(leaderboardId: string, expiry: number, start: number, end: number): Promise<string[]> {
    // As LocalRankCache: positions outside 0..count-1 are cut off (Redis would count negative ones from the end).
    start = Math.max(0, start);
    if (end < start) return [];
    const k = this.keys(leaderboardId, expiry);
    return this.read(leaderboardId, expiry, [], async () => {
      const r = (await this.run(RANGE, k.set, k.marker, start, end)) as string[] | null;
      return r ?? NOT_READY;
    });
  }

  private async dropPeriod(leaderboardId: string, expiry: number): Promise<void> {
    const k = this.keys(leaderboardId, expiry);
    await this.redis.unlink(k.set, k.owners, k.marker, k.pending);
    await this.redis.srem(k.periods, String(expiry));
  }

  async dropLeaderboard(leaderboardId: string): Promise<void> {
    for (const id of [...this.loaded.keys()]) if (id.slice(id.indexOf(':') + 1) === leaderboardId) this.loaded.delete(id);
    const { periods } = this.keys(leaderboardId, 0);
    for (const e of await this.redis.smembers(periods)) {
      await this.dropPeriod(leaderboardId, Number(e));
      await this.redis.zrem(this.registry, periodId(leaderboardId, Number(e)));
    }
    await this.redis.del(periods);
  }

  /** Returns how many periods this call removed from Redis (another process may have done it first). */
  async dropExpired(nowSec: number): Promise<number> {
    for (const id of [...this.loaded.keys()]) {
      const expiry = Number(id.slice(0, id.indexOf(':')));
      if (expiry !== 0 && expiry <= nowSec) this.loaded.delete(id);
    }
    let n = 0;
    for (const member of await this.redis.zrangebyscore(this.registry, 1, nowSec)) {
      if ((await this.redis.zrem(this.registry, member)) !== 1) continue;
      const colon = member.indexOf(':');
      await this.dropPeriod(member.slice(colon + 1), Number(member.slice(0, colon)));
      n++;
    }
    return n;
  }
}
