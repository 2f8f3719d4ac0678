/**
 * Reading leaderboard records: pages in rank order with next/previous cursors, an owner's
 * neighbourhood ("haystack"), and owner records. Pages are keyset queries on the rank key (one
 * index serves both sort orders); ranks and the around-owner window come from the rank cache in
 * O(log n) when the period is cached, and from SQL counts otherwise.
 */
import { invalid } from '../errors.js';
import { query, queryOne, sql, type Em } from './db.js';
import { currentExpiry, isTournament, type Board, type LeaderboardPorts } from './leaderboards.js';
import { cachedRanks, nowSec, rankOf, RECORD_COLUMNS, toRecord, type RecordRow, type RecordView } from './leaderboard-records.js';

/** A page of records (Nakama's LeaderboardRecordList). */
export interface RecordList {
  records: RecordView[];
  ownerRecords: RecordView[];
  nextCursor?: string;
  prevCursor?: string;
  /** Number of ranked records in the period (0 when the board does not rank). */
  rankCount: number;
}

interface Cursor {
  /** leaderboard id and period the cursor belongs to */
  l: string;
  e: number;
  /** rank key of the record the page starts after (next) or before (previous) */
  k: string;
  n: boolean;
}

const encode = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

function decode(cursor: string, board: Board, expiry: number): Cursor {
  let c: Cursor;
  try {
    c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Cursor;
  } catch {
    throw invalid('Cursor is invalid or expired.');
  }
  if (typeof c?.k !== 'string' || c.l !== board.id || c.e !== expiry || typeof c.n !== 'boolean')
    throw invalid('Cursor is invalid or expired.');
  return c;
}

/**
 * The period a read looks at: the override when given, else the current one. Undefined when the
 * current period of a tournament has already ended (nothing to read).
 */
export function readExpiry(board: Board, ports: LeaderboardPorts, override?: number): number | undefined {
  if (override) return override;
  const now = nowSec(ports);
  const expiry = currentExpiry(board, now);
  if (isTournament(board) && expiry !== 0 && expiry <= now) return undefined;
  return expiry;
}

const inPeriod = (board: Board, expiry: number) => sql`leaderboard_id = ${board.id} and expiry_time = ${expiry}`;

async function rankCount(em: Em, ports: LeaderboardPorts, board: Board, expiry: number, cached: boolean): Promise<number> {
  if (!board.enableRanks) return 0;
  if (cached) return ports.ranks.count(board.id, expiry);
  const row = await queryOne<{ n: string }>(em, sql`select count(*)::text as n from leaderboard_record where ${inPeriod(board, expiry)}`);
  return Number(row?.n ?? 0);
}

/** Ranks a run of consecutive records (in rank order): the first one's rank, then one more each. */
async function rankRun(
  em: Em,
  ports: LeaderboardPorts,
  board: Board,
  expiry: number,
  rows: RecordRow[],
  cached: boolean,
): Promise<RecordView[]> {
  if (rows.length === 0) return [];
  const first = board.enableRanks ? await rankOf(em, ports, board, expiry, rows[0]!.rank_key, cached) : 0;
  return rows.map((r, i) => toRecord(r, first && first + i));
}

export interface ListOptions {
  ownerIds?: readonly string[];
  /** Page size; absent: no page, only owner records (when owners are given). */
  limit?: number;
  cursor?: string;
  /** Read another period than the current one (seconds). */
  expiry?: number;
}

/** A page of a board in rank order, plus the records of the given owners. */
export async function listRecords(em: Em, ports: LeaderboardPorts, board: Board, opts: ListOptions): Promise<RecordList> {
  const expiry = readExpiry(board, ports, opts.expiry);
  if (expiry === undefined) return { records: [], ownerRecords: [], rankCount: 0 };
  const cached = await cachedRanks(em, ports, board, expiry);
  const out: RecordList = { records: [], ownerRecords: [], rankCount: await rankCount(em, ports, board, expiry, cached) };
  if (opts.limit !== undefined) Object.assign(out, await page(em, ports, board, expiry, opts.limit, opts.cursor, cached));
  if (opts.ownerIds && opts.ownerIds.length > 0) {
    const rows = await query<RecordRow>(
      em,
      sql`select ${RECORD_COLUMNS} from leaderboard_record where ${inPeriod(board, expiry)} and owner_id = any(${[...opts.ownerIds]}::uuid[])
          order by rank_key`,
    );
    for (const r of rows) out.ownerRecords.push(toRecord(r, await rankOf(em, ports, board, expiry, r.rank_key, cached)));
  }
  return out;
}

async function page(
  em: Em,
  ports: LeaderboardPorts,
  board: Board,
  expiry: number,
  limit: number,
  cursor: string | undefined,
  cached: boolean,
) {
  const c = cursor ? decode(cursor, board, expiry) : undefined;
  const backwards = c !== undefined && !c.n;
  const where = c ? (c.n ? sql`and rank_key > ${c.k}` : sql`and rank_key < ${c.k}`) : sql``;
  const rows = await query<RecordRow>(
    em,
    sql`select ${RECORD_COLUMNS} from leaderboard_record where ${inPeriod(board, expiry)} ${where}
        order by rank_key ${backwards ? sql`desc` : sql`asc`} limit ${limit + 1}`,
  );
  const more = rows.length > limit;
  const taken = rows.slice(0, limit);
  if (backwards) taken.reverse();
  const records = await rankRun(em, ports, board, expiry, taken, cached);
  const first = taken[0];
  const last = taken[taken.length - 1];
  // Forwards: a next page when more rows follow, a previous one when we came from a cursor.
  // Backwards: a previous page when more rows precede, and always the page we came from.
  const hasNext = backwards ? true : more;
  const hasPrev = backwards ? more : c !== undefined;
  return {
    records,
    ...(hasNext && last ? { nextCursor: encode({ l: board.id, e: expiry, k: last.rank_key, n: true }) } : {}),
    ...(hasPrev && first ? { prevCursor: encode({ l: board.id, e: expiry, k: first.rank_key, n: false }) } : {}),
  };
}

/**
 * The `limit` records around an owner (Nakama's haystack): as many above as needed to put the owner
 * in the lower middle of the window, fewer when the owner is near the top or bottom. With a cursor
 * this is a plain page. No record for the owner: an empty list.
 */
export async function recordsAroundOwner(
  em: Em,
  ports: LeaderboardPorts,
  board: Board,
  ownerId: string,
  limit: number,
  cursor?: string,
  overrideExpiry?: number,
): Promise<RecordList> {
  if (cursor) return listRecords(em, ports, board, { limit, cursor, ...(overrideExpiry ? { expiry: overrideExpiry } : {}) });
  const expiry = readExpiry(board, ports, overrideExpiry);
  if (expiry === undefined) return { records: [], ownerRecords: [], rankCount: 0 };
  const cached = await cachedRanks(em, ports, board, expiry);
  const empty = async () => ({ records: [], ownerRecords: [], rankCount: await rankCount(em, ports, board, expiry, cached) });
  let rows: RecordRow[];
  let start: number;
  let total: number;
  if (cached) {
    // The cache knows the owner's key: rank, window and its keys without touching the database,
    // then one indexed fetch of the window's rows.
    const rank = await ports.ranks.rankOf(board.id, expiry, ownerId);
    if (rank === undefined) return empty();
    total = await ports.ranks.count(board.id, expiry);
    [start] = window(rank - 1, total, limit);
    const keys = await ports.ranks.range(board.id, expiry, start, start + limit - 1);
    rows = await query<RecordRow>(
      em,
      sql`select ${RECORD_COLUMNS} from leaderboard_record where ${inPeriod(board, expiry)} and rank_key = any(${keys}::text[]) order by rank_key`,
    );
  } else {
    const owner = await queryOne<RecordRow>(
      em,
      sql`select ${RECORD_COLUMNS} from leaderboard_record where ${inPeriod(board, expiry)} and owner_id = ${ownerId}`,
    );
    if (!owner) return empty();
    // Not cached (ranks off, or a past period): the neighbours by keyset, `limit` on each side.
    const above = await query<RecordRow>(
      em,
      sql`select ${RECORD_COLUMNS} from leaderboard_record where ${inPeriod(board, expiry)} and rank_key < ${owner.rank_key}
          order by rank_key desc limit ${limit}`,
    );
    const below = await query<RecordRow>(
      em,
      sql`select ${RECORD_COLUMNS} from leaderboard_record where ${inPeriod(board, expiry)} and rank_key > ${owner.rank_key}
          order by rank_key limit ${limit}`,
    );
    const all = [...above.reverse(), owner, ...below];
    // Fetching `limit` on each side is enough to tell whether records lie beyond the window.
    [start] = window(above.length, all.length, limit);
    rows = all.slice(start, start + limit);
    total = all.length;
  }
  const records = cached ? rows.map((r, i) => toRecord(r, start + 1 + i)) : await rankRun(em, ports, board, expiry, rows, cached);
  const first = rows[0];
  const last = rows[rows.length - 1];
  return {
    records,
    ownerRecords: [],
    rankCount: await rankCount(em, ports, board, expiry, cached),
    ...(start > 0 && first ? { prevCursor: encode({ l: board.id, e: expiry, k: first.rank_key, n: false }) } : {}),
    ...(start + rows.length < total && last ? { nextCursor: encode({ l: board.id, e: expiry, k: last.rank_key, n: true }) } : {}),
  };
}

/** The window of `limit` positions around 0-based position `pos` among `total`: [start, end]. */
export function window(pos: number, total: number, limit: number): [number, number] {
  const below = Math.floor(limit / 2);
  let start = Math.max(0, pos - (limit - 1 - below));
  let end = start + limit - 1;
  if (end > total - 1) {
    end = total - 1;
    start = Math.max(0, end - limit + 1);
  }
  return [start, end];
}
