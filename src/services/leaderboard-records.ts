/**
 * Writing and deleting leaderboard records (Nakama's LeaderboardRecordWrite / Delete). The
 * operator runs inside one `INSERT … ON CONFLICT DO UPDATE`, so concurrent writes by the same owner
 * never lose one another; the rank cache is updated after the statement, from what it returned.
 *
 * Semantics (where Tavern differs from Nakama it says so):
 * - best keeps the better (score, subscore) pair as a whole (Nakama takes the best score and the
 *   best subscore separately, which can combine two different writes);
 * - num_score counts every accepted write, including a best write that did not improve the record
 *   (Nakama counts only writes that changed a leaderboard record, but every tournament write);
 * - rank_time, the tie-break between equal scores, moves only when score or subscore change:
 *   of two owners with the same score, the one who reached it first ranks first;
 * - metadata is replaced only by a write that changed the record (a worse best score keeps it).
 */
import { IsolationLevel } from '@mikro-orm/postgresql';
import { AppError, Code, denied, invalid } from '../errors.js';
import { query, queryOne, run, sql, toDate, type Em } from './db.js';
import { inTransaction } from './tx.js';
import {
  BOARD_COLUMNS,
  currentExpiry,
  isTournament,
  metadataText,
  Operator,
  SortOrder,
  toBoard,
  type Board,
  type LeaderboardPorts,
} from './leaderboards.js';
import type { RankEntry } from './rank-cache.js';

const INT64_MAX = 2n ** 63n - 1n;

/** A record as the services return it. */
export interface RecordView {
  leaderboardId: string;
  ownerId: string;
  username?: string;
  score: bigint;
  subscore: bigint;
  numScore: number;
  maxNumScore: number;
  /** JSON text. */
  metadata: string;
  createTime: Date;
  updateTime: Date;
  /** Seconds since the epoch; 0: never expires. */
  expiryTime: number;
  /** 1-based; 0 when the board does not rank. */
  rank: number;
  rankKey: string;
}

export interface RecordRow {
  leaderboard_id: string;
  owner_id: string;
  username: string | null;
  score: string;
  subscore: string;
  num_score: number;
  max_num_score: number;
  metadata: string;
  create_time: Date | string;
  update_time: Date | string;
  expiry_time: string;
  rank_key: string;
}

export const RECORD_COLUMNS = sql`leaderboard_id, owner_id, username, score::text as score, subscore::text as subscore, num_score, max_num_score,
  metadata::text as metadata, create_time, update_time, expiry_time::text as expiry_time, rank_key`;

export function toRecord(r: RecordRow, rank = 0): RecordView {
  return {
    leaderboardId: r.leaderboard_id,
    ownerId: r.owner_id,
    ...(r.username !== null ? { username: r.username } : {}),
    score: BigInt(r.score),
    subscore: BigInt(r.subscore),
    numScore: r.num_score,
    maxNumScore: r.max_num_score,
    metadata: r.metadata,
    createTime: toDate(r.create_time),
    updateTime: toDate(r.update_time),
    expiryTime: Number(r.expiry_time),
    rank,
    rankKey: r.rank_key,
  };
}

/** A score or subscore: a non-negative int64 from a number, bigint or decimal string. */
export function toScore(v: number | bigint | string | null | undefined, what = 'score'): bigint {
  let b: bigint;
  if (v === null || v === undefined || v === '') b = 0n;
  else if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else if (typeof v === 'string' && /^\d{1,19}$/.test(v)) b = BigInt(v);
  else throw invalid(`Invalid ${what}: it must be a non-negative 64-bit integer.`);
  if (b < 0n || b > INT64_MAX) throw invalid(`Invalid ${what}: it must be a non-negative 64-bit integer.`);
  return b;
}

export const nowSec = (ports: LeaderboardPorts) => Math.floor(ports.clock.now() / 1000);

/** Loads the period's ranks if this board ranks and the period is live; returns whether ranks can be read from the cache. */
export async function cachedRanks(em: Em, ports: LeaderboardPorts, board: Board, expiry: number): Promise<boolean> {
  if (!board.enableRanks || (expiry !== 0 && expiry <= nowSec(ports))) return false;
  await ports.ranks.ensure(board.id, expiry, () => streamEntries(em, board.id, expiry));
  return ports.ranks.has(board.id, expiry);
}

/** A period's rank keys in order, in batches from one REPEATABLE READ snapshot. */
async function* streamEntries(em: Em, leaderboardId: string, expiry: number, batch = 50_000): AsyncIterable<RankEntry[]> {
  const fork = em.fork() as Em;
  await fork.begin({ isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true });
  try {
    let after = '';
    for (;;) {
      // One text row per batch ("<80-char key><num_score>,…"): cheaper for the driver to hand over
      // than a row object per record. The aggregate sees the page in index order; checked below.
      const row = await queryOne<{ entries: string | null }>(
        fork,
        sql`select string_agg(rank_key || num_score::text, ',') as entries from (
              select rank_key, num_score from leaderboard_record
              where leaderboard_id = ${leaderboardId} and expiry_time = ${expiry} and rank_key > ${after}
              order by rank_key limit ${batch}) page`,
      );
      if (!row?.entries) break;
      const entries = row.entries.split(',').map((e) => ({ key: e.slice(0, 80), version: Number(e.slice(80)) }));
      if (entries.some((e, i) => i > 0 && entries[i - 1]!.key >= e.key)) entries.sort((a, b) => (a.key < b.key ? -1 : 1));
      yield entries;
      after = entries[entries.length - 1]!.key;
      if (entries.length < batch) break;
    }
  } finally {
    await fork.rollback();
  }
}

/** Rank of a record from the cache, else by counting in SQL (periods that are not cached). */
export async function rankOf(em: Em, ports: LeaderboardPorts, board: Board, expiry: number, key: string, cached: boolean): Promise<number> {
  if (!board.enableRanks) return 0;
  if (cached) {
    const r = await ports.ranks.rankOfKey(board.id, expiry, key);
    if (r !== undefined) return r;
  }
  const row = await queryOne<{ n: string }>(
    em,
    sql`select count(*)::text as n from leaderboard_record where leaderboard_id = ${board.id} and expiry_time = ${expiry} and rank_key < ${key}`,
  );
  return Number(row?.n ?? 0) + 1;
}

export interface RecordWrite {
  ownerId: string;
  /** Stored with the record; absent keeps the stored one. */
  username?: string | null;
  score: bigint;
  subscore: bigint;
  metadata?: string | Record<string, unknown> | null;
  /** Overrides the board's operator for this write. */
  operator?: Operator;
}

/** Tournament rules for one write (leaderboards have none). */
export interface WriteRules {
  expiry: number;
  /** Only update an existing (joined) record. */
  joinRequired?: boolean;
  /** Called in the transaction when the write created the owner's record; may throw to undo it. */
  onInsert?: (tx: Em) => Promise<void>;
}

/** The SQL that applies an operator to a stored record `r`. */
function operatorSql(op: Operator, descending: boolean, score: bigint, subscore: bigint) {
  const s = sql`${score.toString()}::bigint`;
  const ss = sql`${subscore.toString()}::bigint`;
  switch (op) {
    case Operator.SET:
      return { insert: [s, ss], score: s, subscore: ss, changed: sql`true` };
    case Operator.INCREMENT:
      return { insert: [s, ss], score: sql`r.score + ${s}`, subscore: sql`r.subscore + ${ss}`, changed: sql`true` };
    case Operator.DECREMENT:
      return {
        insert: [sql`0`, sql`0`],
        score: sql`greatest(r.score - ${s}, 0)`,
        subscore: sql`greatest(r.subscore - ${ss}, 0)`,
        changed: sql`true`,
      };
    default: {
      // A joined tournament record that has no score yet (num_score 0) takes the first one as is.
      const better = descending
        ? sql`(r.num_score = 0 or (${s}, ${ss}) > (r.score, r.subscore))`
        : sql`(r.num_score = 0 or (${s}, ${ss}) < (r.score, r.subscore))`;
      return {
        insert: [s, ss],
        score: sql`case when ${better} then ${s} else r.score end`,
        subscore: sql`case when ${better} then ${ss} else r.subscore end`,
        changed: better,
      };
    }
  }
}

/** The database's clock in µs: the rank time of a new score. */
const NOW_US = sql`(extract(epoch from clock_timestamp()) * 1000000)::bigint`;

/**
 * Applies one write to the owner's record of the period `rules.expiry` and updates the rank cache.
 * Tournament limits (max_num_score) are in the statement; a refused write throws.
 */
export async function applyWrite(em: Em, ports: LeaderboardPorts, board: Board, w: RecordWrite, rules: WriteRules): Promise<RecordView> {
  const desc = board.sortOrder === SortOrder.DESCENDING;
  const op = operatorSql(w.operator ?? board.operator, desc, w.score, w.subscore);
  const meta = metadataText(w.metadata) ?? null;
  const username = w.username || null;
  const update = sql`score = ${op.score}, subscore = ${op.subscore},
      rank_time = case when (${op.score}, ${op.subscore}) = (r.score, r.subscore) then r.rank_time else ${NOW_US} end,
      num_score = r.num_score + 1,
      metadata = case when ${op.changed} then coalesce(${meta}::jsonb, r.metadata) else r.metadata end,
      username = coalesce(${username}, r.username), update_time = now()`;
  const limit = sql`(r.max_num_score = 0 or r.num_score < r.max_num_score)`;
  const returning = sql`returning ${RECORD_COLUMNS}`;
  const key = sql`r.leaderboard_id = ${board.id} and r.expiry_time = ${rules.expiry} and r.owner_id = ${w.ownerId}`;
  let row: (RecordRow & { inserted: boolean }) | undefined;
  try {
    row = await inTransaction(em, async (tx) => {
      const written = rules.joinRequired
        ? await queryOne<RecordRow & { inserted: boolean }>(
            tx,
            sql`update leaderboard_record as r set ${update} where ${key} and ${limit} ${returning}, false as inserted`,
          )
        : await queryOne<RecordRow & { inserted: boolean }>(
            tx,
            sql`insert into leaderboard_record as r (leaderboard_id, owner_id, expiry_time, descending, username, score, subscore, metadata, rank_time, max_num_score)
                values (${board.id}, ${w.ownerId}, ${rules.expiry}, ${desc}, ${username}, ${op.insert[0]}, ${op.insert[1]},
                        coalesce(${meta}::jsonb, '{}'), ${NOW_US}, ${isTournament(board) ? board.maxNumScore : 0})
                on conflict (leaderboard_id, expiry_time, owner_id) do update set ${update} where ${limit}
                ${returning}, (xmax = 0) as inserted`,
          );
      if (written?.inserted && rules.onInsert) await rules.onInsert(tx);
      return written;
    });
  } catch (err) {
    if ((err as { code?: string }).code === '22003') throw invalid('Score or subscore would overflow a 64-bit integer.');
    if ((err as { code?: string }).code === '23503') throw new AppError(Code.NOT_FOUND, 'Leaderboard not found.');
    throw err;
  }
  if (!row) {
    const exists = await queryOne(em, sql`select 1 from leaderboard_record r where ${key}`);
    if (!exists) throw new AppError(Code.FAILED_PRECONDITION, 'Must join tournament before attempting to write value.');
    throw new AppError(Code.FAILED_PRECONDITION, 'Reached allowed max number of score attempts.');
  }
  let rank = 0;
  if (await cachedRanks(em, ports, board, rules.expiry))
    rank = await ports.ranks.upsert(board.id, rules.expiry, w.ownerId, row.rank_key, row.num_score);
  if (board.enableRanks && rank === 0) rank = await rankOf(em, ports, board, rules.expiry, row.rank_key, false);
  return toRecord(row, rank);
}

/** Who writes: a client (the board's authoritative flag applies) or server code. */
export type Caller = { userId: string } | 'server';

/** Writes a leaderboard record in the current period. */
export async function writeLeaderboardRecord(
  em: Em,
  ports: LeaderboardPorts,
  board: Board,
  caller: Caller,
  w: RecordWrite,
): Promise<RecordView> {
  if (board.authoritative && caller !== 'server') throw denied('Leaderboard only allows authoritative score submissions.');
  return applyWrite(em, ports, board, w, { expiry: currentExpiry(board, nowSec(ports)) });
}

/** Deletes an owner's record in the current period (clients: only on non-authoritative boards). */
export async function deleteLeaderboardRecord(
  em: Em,
  ports: LeaderboardPorts,
  board: Board,
  caller: Caller,
  ownerId: string,
): Promise<void> {
  if (board.authoritative && caller !== 'server') throw denied('Leaderboard only allows authoritative score deletions.');
  const expiry = currentExpiry(board, nowSec(ports));
  await run(
    em,
    sql`delete from leaderboard_record where leaderboard_id = ${board.id} and expiry_time = ${expiry} and owner_id = ${ownerId}`,
  );
  await ports.ranks.remove(board.id, expiry, ownerId);
}

/** Deletes every record a user owns (account deletion); returns the periods they were in, for the rank cache. */
export async function deleteUserRecords(em: Em, userId: string): Promise<{ leaderboardId: string; expiry: number }[]> {
  const rows = await query<{ leaderboard_id: string; expiry_time: string }>(
    em,
    sql`delete from leaderboard_record r where r.owner_id = ${userId}
        returning r.leaderboard_id, r.expiry_time::text as expiry_time`,
  );
  // Tournament sizes count owners of a period: one fewer each.
  for (const r of rows) {
    await run(
      em,
      sql`update leaderboard set size = size - 1 where id = ${r.leaderboard_id} and duration > 0 and size_expiry = ${r.expiry_time}::bigint and size > 0`,
    );
  }
  return rows.map((r) => ({ leaderboardId: r.leaderboard_id, expiry: Number(r.expiry_time) }));
}

/** Removes a deleted user's ranks from the cache (after the deletion committed). */
export async function forgetUserRanks(
  ports: Pick<LeaderboardPorts, 'ranks'>,
  userId: string,
  periods: readonly { leaderboardId: string; expiry: number }[],
) {
  for (const p of periods) await ports.ranks.remove(p.leaderboardId, p.expiry, userId);
}

/** Loads the rank cache of every board's current period (at boot); returns how many periods. */
export async function warmRankCache(em: Em, ports: LeaderboardPorts): Promise<number> {
  const rows = await query<Parameters<typeof toBoard>[0]>(em, sql`select ${BOARD_COLUMNS} from leaderboard where enable_ranks`);
  let n = 0;
  for (const board of rows.map(toBoard)) if (await cachedRanks(em, ports, board, currentExpiry(board, nowSec(ports)))) n++;
  return n;
}
