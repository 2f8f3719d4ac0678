/**
 * Tournaments (Nakama's core_tournament): leaderboards with a start time, a duration per period,
 * an optional end time, a join requirement, a cap on owners per period (`max_size`) and on writes
 * per owner (`max_num_score`). Size is counted in the leaderboard row for the period named by
 * `size_expiry`, by one conditional UPDATE per new owner, so concurrent joins never exceed the cap.
 */
import { AppError, Code, denied, invalid } from '../errors.js';
import { query, queryOne, run, sql, type Em } from './db.js';
import { checkSchedule, nextReset, tournamentDeadlines, type Deadlines } from './leaderboard-periods.js';
import {
  BOARD_COLUMNS,
  checkId,
  getBoard,
  isTournament,
  metadataText,
  resets,
  SortOrder,
  toBoard,
  type Board,
  type LeaderboardPorts,
  type Operator,
} from './leaderboards.js';
import { applyWrite, cachedRanks, nowSec, type Caller, type RecordView, type RecordWrite } from './leaderboard-records.js';
import { inTransaction } from './tx.js';

export interface TournamentSpec {
  id: string;
  authoritative: boolean;
  sortOrder: SortOrder;
  operator: Operator;
  /** Seconds each period accepts scores. */
  duration: number;
  resetSchedule: string | null;
  metadata?: string | Record<string, unknown> | null;
  title?: string;
  description?: string;
  category?: number;
  /** Seconds since the epoch; 0 or absent: now. */
  startTime?: number;
  /** Seconds since the epoch; 0: never ends. */
  endTime?: number;
  /** Owners per period; 0: no cap. */
  maxSize?: number;
  /** Writes per owner per period; 0: no cap. */
  maxNumScore?: number;
  joinRequired?: boolean;
  enableRanks?: boolean;
}

const int = (v: number | undefined, what: string, max = 2 ** 31 - 1) => {
  const n = v ?? 0;
  if (!Number.isInteger(n) || n < 0 || n > max) throw invalid(`Tournament ${what} must be an integer between 0 and ${max}.`);
  return n;
};

/** Creates a tournament; creating one that exists changes nothing; a leaderboard with the id is an error. */
export async function createTournament(em: Em, ports: LeaderboardPorts, spec: TournamentSpec): Promise<void> {
  checkId(spec.id);
  const now = nowSec(ports);
  const duration = int(spec.duration, 'duration');
  if (duration <= 0) throw invalid('Tournament duration must be greater than zero.');
  const category = int(spec.category, 'category', 127);
  const startTime = int(spec.startTime, 'start time', 2 ** 53) || now;
  const endTime = int(spec.endTime, 'end time', 2 ** 53);
  if (endTime > 0 && endTime < startTime) throw invalid('Tournament end time cannot be before start time.');
  if (spec.resetSchedule) {
    checkSchedule(spec.resetSchedule);
    if (endTime > 0 && endTime <= nextReset(spec.resetSchedule, startTime)) {
      throw invalid(
        'Tournament end time cannot be before first reset schedule - either increase end time or change/disable reset schedule.',
      );
    }
  }
  const title = spec.title ?? '';
  const description = spec.description ?? '';
  if (title.length > 255 || description.length > 255) throw invalid('Tournament title and description must be at most 255 characters.');
  const inserted = await queryOne(
    em,
    sql`insert into leaderboard (id, authoritative, sort_order, operator, reset_schedule, metadata, enable_ranks, create_time,
          category, description, duration, start_time, end_time, join_required, max_size, max_num_score, title)
        values (${spec.id}, ${spec.authoritative}, ${spec.sortOrder}, ${spec.operator}, ${spec.resetSchedule || null},
          ${metadataText(spec.metadata) ?? '{}'}::jsonb, ${spec.enableRanks ?? true}, ${new Date(ports.clock.now())},
          ${category}, ${description}, ${duration}, ${new Date(startTime * 1000)}, ${endTime > 0 ? new Date(endTime * 1000) : null},
          ${spec.joinRequired ?? false}, ${int(spec.maxSize, 'max size')}, ${int(spec.maxNumScore, 'max num score')}, ${title})
        on conflict (id) do nothing returning id`,
  );
  if (!inserted) {
    const existing = await getBoard(em, spec.id);
    if (existing && !isTournament(existing)) throw invalid('Cannot create tournament as leaderboard is already in use.');
  }
}

/** The tournament with this id, or a not-found error. */
export async function mustGetTournament(em: Em, id: string): Promise<Board> {
  const board = await getBoard(em, id);
  if (!board || !isTournament(board)) throw new AppError(Code.NOT_FOUND, 'Tournament not found.');
  return board;
}

export const deadlines = (t: Board, now: number): Deadlines =>
  tournamentDeadlines(t.startTime, t.endTime, t.duration, t.resetSchedule, now);

/** A tournament with the state of its current period (Nakama's api.Tournament fields). */
export interface TournamentView extends Board, Deadlines {
  canEnter: boolean;
  prevReset: number;
  nextReset: number;
}

export function tournamentView(t: Board, now: number): TournamentView {
  const d = deadlines(t, now);
  const size = t.sizeExpiry === d.expiry ? t.size : 0;
  const canEnter = d.startActive <= now && now < d.endActive && (t.maxSize === 0 || size < t.maxSize);
  return { ...t, ...d, size, canEnter, prevReset: resets(t, now).prevReset, nextReset: d.expiry };
}

/** Counts a new owner in the period, within `max_size`; throws when the tournament is full. */
async function countOwner(tx: Em, t: Board, expiry: number, full: string, code: Code = Code.FAILED_PRECONDITION): Promise<void> {
  const n = await run(
    tx,
    sql`update leaderboard set size = case when size_expiry = ${expiry} then size + 1 else 1 end, size_expiry = ${expiry}
        where id = ${t.id} and (size_expiry <> ${expiry} or max_size = 0 or size < max_size)`,
  );
  if (n === 0) throw new AppError(code, full);
}

/** Joins the current period (only tournaments that require it keep a record of joins). */
export async function joinTournament(em: Em, ports: LeaderboardPorts, t: Board, ownerId: string, username?: string | null): Promise<void> {
  if (!t.joinRequired) return;
  const now = nowSec(ports);
  const d = deadlines(t, now);
  if (d.endActive <= now) throw invalid('Tournament is not active and cannot accept new joins.');
  const desc = t.sortOrder === SortOrder.DESCENDING;
  const joined = await inTransaction(em, async (tx) => {
    const row = await queryOne<{ rank_key: string }>(
      tx,
      sql`insert into leaderboard_record (leaderboard_id, owner_id, expiry_time, descending, username, num_score, max_num_score, rank_time)
          values (${t.id}, ${ownerId}, ${d.expiry}, ${desc}, ${username || null}, 0, ${t.maxNumScore},
                  (extract(epoch from clock_timestamp()) * 1000000)::bigint)
          on conflict (leaderboard_id, expiry_time, owner_id) do nothing returning rank_key`,
    );
    if (row) await countOwner(tx, t, d.expiry, 'Tournament cannot be joined as it has reached its max size.', Code.INVALID_ARGUMENT);
    return row;
  });
  if (joined && (await cachedRanks(em, ports, t, d.expiry))) await ports.ranks.upsert(t.id, d.expiry, ownerId, joined.rank_key, 0);
}

/** Writes a record in the current window; enforces the window, joins, max_size and max_num_score. */
export async function writeTournamentRecord(
  em: Em,
  ports: LeaderboardPorts,
  t: Board,
  caller: Caller,
  w: RecordWrite,
): Promise<RecordView> {
  if (t.authoritative && caller !== 'server') throw denied('Tournament only allows authoritative score submissions.');
  const now = nowSec(ports);
  const d = deadlines(t, now);
  if (d.startActive > now || d.endActive <= now)
    throw new AppError(Code.FAILED_PRECONDITION, 'Tournament is not active and cannot accept new scores.');
  return applyWrite(em, ports, t, w, {
    expiry: d.expiry,
    joinRequired: t.joinRequired,
    onInsert: (tx) => countOwner(tx, t, d.expiry, 'Tournament has reached max size.'),
  });
}

/** Deletes an owner's record in the current period, and counts them out. */
export async function deleteTournamentRecord(em: Em, ports: LeaderboardPorts, t: Board, caller: Caller, ownerId: string): Promise<void> {
  if (t.authoritative && caller !== 'server') throw denied('Tournament only allows authoritative score deletions.');
  const expiry = deadlines(t, nowSec(ports)).expiry;
  await inTransaction(em, async (tx) => {
    const n = await run(
      tx,
      sql`delete from leaderboard_record where leaderboard_id = ${t.id} and expiry_time = ${expiry} and owner_id = ${ownerId}`,
    );
    if (n > 0) await run(tx, sql`update leaderboard set size = size - 1 where id = ${t.id} and size_expiry = ${expiry} and size > 0`);
  });
  await ports.ranks.remove(t.id, expiry, ownerId);
}

/** Gives an owner `count` more (or fewer) writes in the current period. */
export async function addAttempts(em: Em, ports: LeaderboardPorts, t: Board, ownerId: string, count: number): Promise<void> {
  if (!Number.isInteger(count)) throw invalid('Attempt count must be an integer.');
  if (count === 0) return;
  const now = nowSec(ports);
  const d = deadlines(t, now);
  if (d.endActive <= now) throw invalid('Tournament is not active and cannot accept new attempts.');
  await run(
    em,
    sql`update leaderboard_record set max_num_score = greatest(max_num_score + ${count}, 0)
        where leaderboard_id = ${t.id} and expiry_time = ${d.expiry} and owner_id = ${ownerId}`,
  );
}

export interface TournamentFilter {
  categoryStart?: number;
  categoryEnd?: number;
  /** Only tournaments starting at or after this time (seconds). */
  startTime?: number;
  /** 0: only tournaments without an end; > 0: ending by then; absent: those not ended yet. */
  endTime?: number;
  limit: number;
  cursor?: string;
}

/** Tournaments by start time (then id), filtered as Nakama's ListTournaments. */
export async function listTournaments(
  em: Em,
  ports: LeaderboardPorts,
  f: TournamentFilter,
): Promise<{ tournaments: TournamentView[]; cursor?: string }> {
  const now = nowSec(ports);
  const catStart = f.categoryStart ?? 0;
  const catEnd = f.categoryEnd ?? 127;
  if (catEnd > 127 || catEnd < 0) throw invalid('Tournament category end must be >=0 and <128.');
  if (catEnd < catStart) throw invalid('Tournament category end must be greater than category start.');
  if (f.endTime !== undefined && f.endTime !== 0 && f.startTime !== undefined && f.endTime < f.startTime) {
    throw invalid('Tournament end time must be greater than start time.');
  }
  if (!Number.isInteger(f.limit) || f.limit < 1 || f.limit > 100) throw invalid('Limit must be between 1 and 100.');
  let after = sql``;
  if (f.cursor) {
    let c: { s: number; i: string };
    try {
      c = JSON.parse(Buffer.from(f.cursor, 'base64url').toString('utf8')) as { s: number; i: string };
    } catch {
      throw invalid('Cursor is invalid or expired.');
    }
    if (typeof c?.s !== 'number' || typeof c.i !== 'string') throw invalid('Cursor is invalid or expired.');
    after = sql`and (start_time, id) > (${new Date(c.s * 1000)}, ${c.i})`;
  }
  const at = (s: number) => new Date(s * 1000);
  const starts = f.startTime !== undefined ? sql`and start_time >= ${at(f.startTime)}` : sql``;
  const ends =
    f.endTime === undefined
      ? sql`and (end_time is null or end_time >= ${at(now)})`
      : f.endTime === 0
        ? sql`and end_time is null`
        : sql`and end_time is not null and end_time <= ${at(f.endTime)}`;
  const rows = await query<Parameters<typeof toBoard>[0]>(
    em,
    sql`select ${BOARD_COLUMNS} from leaderboard
        where duration > 0 and category between ${catStart} and ${catEnd} ${starts} ${ends} ${after}
        order by start_time, id limit ${f.limit + 1}`,
  );
  const tournaments = rows.slice(0, f.limit).map((r) => tournamentView(toBoard(r), now));
  const last = tournaments[tournaments.length - 1];
  return {
    tournaments,
    ...(rows.length > f.limit && last
      ? { cursor: Buffer.from(JSON.stringify({ s: last.startTime, i: last.id })).toString('base64url') }
      : {}),
  };
}
