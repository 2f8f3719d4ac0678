/**
 * Leaderboard rank cache: one sorted set of rank keys per (leaderboard, reset period), answering
 * "what rank is this owner" and "who is around rank r" in O(log n). PostgreSQL holds the records
 * (and the same key, `leaderboard_record.rank_key`); the cache is rebuilt from it and never holds
 * the only copy of anything.
 *
 * Rank key: fixed-width lowercase hex, 80 characters, ordered byte by byte exactly as the board
 * ranks (the first key is rank 1):
 *
 *   score (16) | subscore (16) | rank time in µs since the epoch (16) | owner uuid without dashes (32)
 *
 * On descending boards score and subscore are stored as 2^63-1 minus the value, so that a higher
 * score sorts first; the rank time (when the owner reached that score) then puts the earliest
 * first, and the owner id breaks what is left. PostgreSQL computes the same key in a generated
 * column (migration Migration20261122020000Leaderboards), `rankKey()` below in TypeScript.
 *
 * Several processes (REDIS_URL): `RedisRankCache` (src/services/redis-rank-cache.ts). One sorted
 * set per period, `tavern:lb:{<leaderboard id>}:<expiry>`, every member with score 0 and the rank
 * key as member, so Redis orders members lexicographically by key (ZRANK for a rank, ZRANGE by
 * index around it, ZCARD for rank_count); a hash `tavern:lbo:{<leaderboard id>}:<expiry>` of owner
 * → current key and version; upsert and remove as Lua scripts so they are atomic; the braces keep a
 * board's keys on one cluster slot. Loading is "load once per cluster" (SET NX a loading marker),
 * and ended periods are dropped by the scheduler, with key TTLs as a backstop.
 */
import { CountedBTree } from './order-statistic.js';

const INT64_MAX = 2n ** 63n - 1n;

const hex16 = (v: bigint) => v.toString(16).padStart(16, '0');

/** The rank key of a record (see the file comment). */
export function rankKey(descending: boolean, score: bigint, subscore: bigint, rankTimeUs: bigint, ownerId: string): string {
  const s = descending ? INT64_MAX - score : score;
  const ss = descending ? INT64_MAX - subscore : subscore;
  return hex16(s) + hex16(ss) + hex16(rankTimeUs) + ownerId.replaceAll('-', '');
}

/** The owner id (uuid with dashes) a rank key ends with. */
export function ownerOfKey(key: string): string {
  const h = key.slice(48);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** One record as the cache loads it: its key and its version (the record's num_score). */
export interface RankEntry {
  key: string;
  version: number;
}

/** Streams a period's entries in ascending key order, from one consistent snapshot. */
export type RankLoader = () => AsyncIterable<RankEntry[]>;

/** The contract both implementations keep (the local one answers synchronously, in promises). */
export interface RankCache {
  /** Loads a period unless loaded (concurrent callers share one load). Call before the others. */
  ensure(leaderboardId: string, expiry: number, load: RankLoader): Promise<void>;
  /** Whether a period is loaded. */
  has(leaderboardId: string, expiry: number): boolean;
  /**
   * Sets an owner's key, replacing the previous one, unless the cache already saw a later
   * version of the record. Returns the owner's rank (1-based), 0 when the period is not loaded.
   */
  upsert(leaderboardId: string, expiry: number, ownerId: string, key: string, version: number): Promise<number>;
  remove(leaderboardId: string, expiry: number, ownerId: string): Promise<void>;
  /** 1-based rank of an owner, or undefined when the owner has no record in the period. */
  rankOf(leaderboardId: string, expiry: number, ownerId: string): Promise<number | undefined>;
  /** 1-based rank of a key, or undefined when absent. */
  rankOfKey(leaderboardId: string, expiry: number, key: string): Promise<number | undefined>;
  /** Number of ranked records in the period. */
  count(leaderboardId: string, expiry: number): Promise<number>;
  /** Keys at 0-based positions start..end inclusive. */
  range(leaderboardId: string, expiry: number, start: number, end: number): Promise<string[]>;
  /** Forgets every period of a leaderboard (deleted). */
  dropLeaderboard(leaderboardId: string): Promise<void>;
  /** Forgets periods that ended at or before `nowSec` (expiry 0 never ends); returns how many. */
  dropExpired(nowSec: number): Promise<number>;
}

interface Period {
  tree: CountedBTree;
  owners: Map<string, RankEntry>;
  ready: boolean;
  loading: Promise<void>;
}

const periodId = (leaderboardId: string, expiry: number) => `${expiry}:${leaderboardId}`;
/** The owner part of a key (32 hex digits), the owner index's key: cheaper than a uuid with dashes. */
const ownerHex = (key: string) => key.slice(48);
const hexOf = (ownerId: string) => ownerId.replaceAll('-', '');

/** The in-process rank cache: a counted B+tree and an owner index per period. */
export class LocalRankCache implements RankCache {
  private readonly periods = new Map<string, Period>();

  async ensure(leaderboardId: string, expiry: number, load: RankLoader): Promise<void> {
    const id = periodId(leaderboardId, expiry);
    const existing = this.periods.get(id);
    if (existing) return existing.loading;
    const period = { tree: new CountedBTree(), owners: new Map<string, RankEntry>(), ready: false } as Period;
    period.loading = (async () => {
      const keys: string[] = [];
      for await (const batch of load()) {
        for (const e of batch) {
          keys.push(e.key);
          period.owners.set(ownerHex(e.key), e);
        }
      }
      period.tree = CountedBTree.fromSorted(keys);
      period.ready = true;
    })();
    this.periods.set(id, period);
    try {
      await period.loading;
    } catch (err) {
      // Leave no half-built period behind: the next caller tries again.
      if (this.periods.get(id) === period) this.periods.delete(id);
      throw err;
    }
  }

  has(leaderboardId: string, expiry: number): boolean {
    return this.periods.get(periodId(leaderboardId, expiry))?.ready === true;
  }

  private get(leaderboardId: string, expiry: number): Period | undefined {
    const p = this.periods.get(periodId(leaderboardId, expiry));
    return p?.ready ? p : undefined;
  }

  async upsert(leaderboardId: string, expiry: number, ownerId: string, key: string, version: number): Promise<number> {
    const p = this.get(leaderboardId, expiry);
    if (!p) return 0;
    const owner = hexOf(ownerId);
    const old = p.owners.get(owner);
    if (old && old.version > version) return p.tree.indexOf(old.key) + 1;
    if (old && old.key !== key) p.tree.delete(old.key);
    p.tree.insert(key);
    p.owners.set(owner, { key, version });
    return p.tree.indexOf(key) + 1;
  }

  async remove(leaderboardId: string, expiry: number, ownerId: string): Promise<void> {
    const p = this.get(leaderboardId, expiry);
    const owner = hexOf(ownerId);
    const old = p?.owners.get(owner);
    if (!p || !old) return;
    p.tree.delete(old.key);
    p.owners.delete(owner);
  }

  async rankOf(leaderboardId: string, expiry: number, ownerId: string): Promise<number | undefined> {
    const p = this.get(leaderboardId, expiry);
    const e = p?.owners.get(hexOf(ownerId));
    return p && e ? p.tree.indexOf(e.key) + 1 : undefined;
  }

  async rankOfKey(leaderboardId: string, expiry: number, key: string): Promise<number | undefined> {
    const i = this.get(leaderboardId, expiry)?.tree.indexOf(key) ?? -1;
    return i >= 0 ? i + 1 : undefined;
  }

  async count(leaderboardId: string, expiry: number): Promise<number> {
    return this.get(leaderboardId, expiry)?.tree.size ?? 0;
  }

  async range(leaderboardId: string, expiry: number, start: number, end: number): Promise<string[]> {
    return this.get(leaderboardId, expiry)?.tree.range(start, end) ?? [];
  }

  async dropLeaderboard(leaderboardId: string): Promise<void> {
    for (const id of [...this.periods.keys()]) if (id.slice(id.indexOf(':') + 1) === leaderboardId) this.periods.delete(id);
  }

  async dropExpired(nowSec: number): Promise<number> {
    let n = 0;
    for (const id of [...this.periods.keys()]) {
      const expiry = Number(id.slice(0, id.indexOf(':')));
      if (expiry !== 0 && expiry <= nowSec) {
        this.periods.delete(id);
        n++;
      }
    }
    return n;
  }
}

/**
 * No cache: every rank is counted in SQL (tests compare against it). Correct, and O(n) per rank.
 * Several processes use `RedisRankCache`: a local cache per process would miss the others' writes.
 */
export class NoRankCache implements RankCache {
  async ensure(): Promise<void> {}
  has(): boolean {
    return false;
  }
  async upsert(): Promise<number> {
    return 0;
  }
  async remove(): Promise<void> {}
  async rankOf(): Promise<number | undefined> {
    return undefined;
  }
  async rankOfKey(): Promise<number | undefined> {
    return undefined;
  }
  async count(): Promise<number> {
    return 0;
  }
  async range(): Promise<string[]> {
    return [];
  }
  async dropLeaderboard(): Promise<void> {}
  async dropExpired(): Promise<number> {
    return 0;
  }
}
