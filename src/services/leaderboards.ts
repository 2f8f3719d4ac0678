/**
 * Leaderboard definitions (Nakama's core_leaderboard / leaderboard_cache): created and deleted by
 * server code only. Tournaments are leaderboards with a duration (src/services/tournaments.ts).
 * Definitions are read from the database on use, so every process sees the same ones.
 */
import { AppError, Code, invalid } from '../errors.js';
import { checkSchedule, lastReset, nextReset, tournamentDeadlines } from './leaderboard-periods.js';
import { query, queryOne, run, sql, toDate, type Em } from './db.js';
import type { Clock } from './ports.js';
import type { RankCache } from './rank-cache.js';

export const SortOrder = { ASCENDING: 0, DESCENDING: 1 } as const;
export type SortOrder = (typeof SortOrder)[keyof typeof SortOrder];
export const Operator = { BEST: 0, SET: 1, INCREMENT: 2, DECREMENT: 3 } as const;
export type Operator = (typeof Operator)[keyof typeof Operator];

/** What the leaderboard services need besides an entity manager. */
export interface LeaderboardPorts {
  clock: Clock;
  ranks: RankCache;
}

/** A leaderboard or tournament as stored. Times in seconds since the epoch (0: unset). */
export interface Board {
  id: string;
  authoritative: boolean;
  sortOrder: SortOrder;
  operator: Operator;
  resetSchedule: string | null;
  /** JSON text. */
  metadata: string;
  enableRanks: boolean;
  createTime: number;
  category: number;
  description: string;
  duration: number;
  startTime: number;
  endTime: number;
  joinRequired: boolean;
  maxSize: number;
  maxNumScore: number;
  title: string;
  size: number;
  sizeExpiry: number;
}

export const isTournament = (b: Board) => b.duration > 0;

interface BoardRow {
  id: string;
  authoritative: boolean;
  sort_order: number;
  operator: number;
  reset_schedule: string | null;
  metadata: string;
  enable_ranks: boolean;
  create_time: Date | string;
  category: number;
  description: string;
  duration: number;
  start_time: Date | string | null;
  end_time: Date | string | null;
  join_required: boolean;
  max_size: number;
  max_num_score: number;
  title: string;
  size: number;
  size_expiry: string;
}

export const BOARD_COLUMNS = sql`id, authoritative, sort_order, operator, reset_schedule, metadata::text as metadata, enable_ranks, create_time,
  category, description, duration, start_time, end_time, join_required, max_size, max_num_score, title, size, size_expiry`;

const seconds = (d: Date | string | null) => (d === null ? 0 : Math.floor(toDate(d).getTime() / 1000));

export function toBoard(r: BoardRow): Board {
  return {
    id: r.id,
    authoritative: r.authoritative,
    sortOrder: r.sort_order as SortOrder,
    operator: r.operator as Operator,
    resetSchedule: r.reset_schedule,
    metadata: r.metadata,
    enableRanks: r.enable_ranks,
    createTime: seconds(r.create_time),
    category: r.category,
    description: r.description,
    duration: r.duration,
    startTime: seconds(r.start_time),
    endTime: seconds(r.end_time),
    joinRequired: r.join_required,
    maxSize: r.max_size,
    maxNumScore: r.max_num_score,
    title: r.title,
    size: r.size,
    sizeExpiry: Number(r.size_expiry),
  };
}

/** Metadata as JSON object text; throws on anything else. */
export function metadataText(metadata: string | Record<string, unknown> | null | undefined): string | undefined {
  if (metadata === null || metadata === undefined || metadata === '') return undefined;
  if (typeof metadata !== 'string') {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) throw invalid('Metadata value must be a JSON object, if provided.');
    return JSON.stringify(metadata);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(metadata);
  } catch {
    throw invalid('Metadata value must be JSON, if provided.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid('Metadata value must be JSON, if provided.');
  return metadata;
}

export function checkId(id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > 128) throw invalid('Leaderboard ID must be 1-128 characters.');
}

export interface LeaderboardSpec {
  id: string;
  authoritative: boolean;
  sortOrder: SortOrder;
  operator: Operator;
  resetSchedule: string | null;
  metadata?: string | Record<string, unknown> | null;
  enableRanks?: boolean;
}

/** Creates a leaderboard; creating one that exists changes nothing (as in Nakama). */
export async function createLeaderboard(em: Em, ports: LeaderboardPorts, spec: LeaderboardSpec): Promise<void> {
  checkId(spec.id);
  if (spec.resetSchedule) checkSchedule(spec.resetSchedule);
  const now = new Date(ports.clock.now());
  await run(
    em,
    sql`insert into leaderboard (id, authoritative, sort_order, operator, reset_schedule, metadata, enable_ranks, create_time)
        values (${spec.id}, ${spec.authoritative}, ${spec.sortOrder}, ${spec.operator}, ${spec.resetSchedule || null},
                ${metadataText(spec.metadata) ?? '{}'}::jsonb, ${spec.enableRanks ?? true}, ${now})
        on conflict (id) do nothing`,
  );
}

/** Deletes a leaderboard (or tournament) with its records and ranks; absent ones are fine. */
export async function deleteBoard(em: Em, ports: LeaderboardPorts, id: string): Promise<void> {
  await run(em, sql`delete from leaderboard where id = ${id}`);
  await run(em, sql`delete from leaderboard_event where leaderboard_id = ${id}`);
  await ports.ranks.dropLeaderboard(id);
}

export async function getBoard(em: Em, id: string): Promise<Board | undefined> {
  const row = await queryOne<BoardRow>(em, sql`select ${BOARD_COLUMNS} from leaderboard where id = ${id}`);
  return row && toBoard(row);
}

/** The leaderboard (not a tournament) with this id, or a not-found error. */
export async function mustGetLeaderboard(em: Em, id: string): Promise<Board> {
  const board = await getBoard(em, id);
  if (!board || isTournament(board)) throw new AppError(Code.NOT_FOUND, 'Leaderboard not found.');
  return board;
}

/** Boards by id, in the order asked, unknown ones left out. */
export async function getBoards(em: Em, ids: readonly string[]): Promise<Board[]> {
  if (ids.length === 0) return [];
  const rows = await query<BoardRow>(em, sql`select ${BOARD_COLUMNS} from leaderboard where id = any(${[...ids]}::text[])`);
  const byId = new Map(rows.map((r) => [r.id, toBoard(r)]));
  return [...new Set(ids)].flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
}

/** Leaderboards (not tournaments) in id order, with a cursor for the next page. */
export async function listLeaderboards(em: Em, limit: number, cursor?: string): Promise<{ boards: Board[]; cursor?: string }> {
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw invalid('Limit must be between 1 and 10000.');
  let after = '';
  if (cursor) {
    try {
      after = String(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')).id);
    } catch {
      throw invalid('Malformed cursor was used.');
    }
  }
  const rows = await query<BoardRow>(
    em,
    sql`select ${BOARD_COLUMNS} from leaderboard where duration = 0 and id > ${after} order by id limit ${limit + 1}`,
  );
  const boards = rows.slice(0, limit).map(toBoard);
  return {
    boards,
    ...(rows.length > limit ? { cursor: Buffer.from(JSON.stringify({ id: boards[boards.length - 1]!.id })).toString('base64url') } : {}),
  };
}

/** The expiry of the period a write at `nowSec` belongs to (0: never resets). */
export function currentExpiry(board: Board, nowSec: number): number {
  if (isTournament(board)) return tournamentDeadlines(board.startTime, board.endTime, board.duration, board.resetSchedule, nowSec).expiry;
  return board.resetSchedule ? nextReset(board.resetSchedule, nowSec) : 0;
}

/** The last and next resets of a board at `nowSec` (0 when it has none). */
export function resets(board: Board, nowSec: number): { prevReset: number; nextReset: number } {
  if (!board.resetSchedule) return { prevReset: 0, nextReset: isTournament(board) ? board.endTime : 0 };
  const start = isTournament(board) ? board.startTime : board.createTime;
  const prev = start > nowSec ? 0 : lastReset(board.resetSchedule, nowSec);
  return { prevReset: prev, nextReset: currentExpiry(board, nowSec) };
}
