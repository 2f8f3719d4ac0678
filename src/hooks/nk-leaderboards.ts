/** `nk` functions for leaderboards and tournaments (Nakama's TypeScript runtime names and shapes). */
import { invalid, notFound } from '../errors.js';
import type { Em } from '../services/db.js';
import * as lb from '../services/leaderboards.js';
import { deleteLeaderboardRecord, nowSec, toScore, writeLeaderboardRecord, type RecordView } from '../services/leaderboard-records.js';
import { listRecords, recordsAroundOwner, type RecordList } from '../services/leaderboard-reads.js';
import * as tn from '../services/tournaments.js';
import * as v from '../services/validation.js';

type Score = number | bigint | string;

/** An int64 for designer code: a number when exact, else a decimal string. */
const int64 = (x: bigint): number | string => (x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString());
const secs = (d: Date) => Math.floor(d.getTime() / 1000);
const parse = (json: string) => JSON.parse(json) as Record<string, unknown>;

const SORT_NAMES = ['ascending', 'descending'] as const;
const OPERATOR_NAMES = ['best', 'set', 'increment', 'decrement'] as const;

/** 'ascending' | 'descending' (also 'asc'/'desc', Nakama's enum names and 0/1). */
export function sortOrderOf(s: unknown): lb.SortOrder {
  const k = String(s ?? 'descending').toLowerCase();
  if (['ascending', 'asc', 'sort_order_ascending', '0'].includes(k)) return lb.SortOrder.ASCENDING;
  if (['descending', 'desc', 'sort_order_descending', '1'].includes(k)) return lb.SortOrder.DESCENDING;
  throw invalid(`Invalid sort order '${String(s)}': use 'ascending' or 'descending'.`);
}

/** 'best' | 'set' | 'incr' | 'decr' (also 'increment'/'decrement' and Nakama's enum names). */
export function operatorOf(o: unknown): lb.Operator {
  const k = String(o ?? 'best').toLowerCase();
  if (['best', 'operator_best'].includes(k)) return lb.Operator.BEST;
  if (['set', 'operator_set'].includes(k)) return lb.Operator.SET;
  if (['incr', 'increment', 'incremental', 'operator_increment'].includes(k)) return lb.Operator.INCREMENT;
  if (['decr', 'decrement', 'decremental', 'operator_decrement'].includes(k)) return lb.Operator.DECREMENT;
  throw invalid(`Invalid operator '${String(o)}': use 'best', 'set', 'incr' or 'decr'.`);
}

const uuid = (id: string, what = 'owner ID') => {
  if (!v.uuid.safeParse(id).success) throw invalid(`Invalid ${what} '${id}'.`);
  return id;
};

/** nkruntime.LeaderboardRecord */
export function runtimeRecord(r: RecordView) {
  return {
    leaderboardId: r.leaderboardId,
    ownerId: r.ownerId,
    username: r.username ?? '',
    score: int64(r.score),
    subscore: int64(r.subscore),
    numScore: r.numScore,
    maxNumScore: r.maxNumScore,
    metadata: parse(r.metadata),
    createTime: secs(r.createTime),
    updateTime: secs(r.updateTime),
    expiryTime: r.expiryTime,
    rank: r.rank,
  };
}

export function runtimeRecordList(l: RecordList) {
  return {
    records: l.records.map(runtimeRecord),
    ownerRecords: l.ownerRecords.map(runtimeRecord),
    ...(l.nextCursor ? { nextCursor: l.nextCursor } : {}),
    ...(l.prevCursor ? { prevCursor: l.prevCursor } : {}),
    rankCount: l.rankCount,
  };
}

/** nkruntime.Leaderboard */
export function runtimeLeaderboard(b: lb.Board, now: number) {
  return {
    id: b.id,
    authoritative: b.authoritative,
    sortOrder: SORT_NAMES[b.sortOrder],
    operator: OPERATOR_NAMES[b.operator],
    ...lb.resets(b, now),
    metadata: parse(b.metadata),
    createTime: b.createTime,
    enableRanks: b.enableRanks,
  };
}

/** nkruntime.Tournament */
export function runtimeTournament(b: lb.Board, now: number) {
  const t = tn.tournamentView(b, now);
  return {
    id: t.id,
    title: t.title,
    description: t.description,
    category: t.category,
    sortOrder: SORT_NAMES[t.sortOrder],
    operator: OPERATOR_NAMES[t.operator],
    size: t.size,
    maxSize: t.maxSize,
    maxNumScore: t.maxNumScore,
    duration: t.duration,
    startActive: t.startActive,
    endActive: t.endActive,
    canEnter: t.canEnter,
    prevReset: t.prevReset,
    nextReset: t.nextReset,
    metadata: parse(t.metadata),
    createTime: t.createTime,
    startTime: t.startTime,
    endTime: t.endTime,
    authoritative: t.authoritative,
    joinRequired: t.joinRequired,
    enableRanks: t.enableRanks,
  };
}

async function leaderboard(em: Em, id: string) {
  return lb.mustGetLeaderboard(em, id);
}

export function leaderboardNk(em: () => Em, ports: lb.LeaderboardPorts) {
  const now = () => nowSec(ports);
  const write = (
    ownerId: string,
    username: string | null | undefined,
    score: Score | undefined,
    subscore: Score | undefined,
    metadata: Record<string, unknown> | null | undefined,
    op: unknown,
  ) => ({
    ownerId: uuid(ownerId),
    username: username ?? null,
    score: toScore(score),
    subscore: toScore(subscore, 'subscore'),
    metadata: metadata ?? null,
    ...(op !== undefined && op !== null ? { operator: operatorOf(op) } : {}),
  });
  return {
    async leaderboardCreate(
      id: string,
      authoritative = false,
      sortOrder: unknown = 'descending',
      operator: unknown = 'best',
      resetSchedule?: string | null,
      metadata?: Record<string, unknown> | null,
      enableRanks = true,
    ): Promise<void> {
      await lb.createLeaderboard(em(), ports, {
        id,
        authoritative,
        sortOrder: sortOrderOf(sortOrder),
        operator: operatorOf(operator),
        resetSchedule: resetSchedule ?? null,
        metadata: metadata ?? null,
        enableRanks,
      });
    },
    async leaderboardDelete(id: string): Promise<void> {
      await lb.deleteBoard(em(), ports, (await leaderboard(em(), id)).id);
    },
    async leaderboardList(limit = 10, cursor?: string) {
      const page = await lb.listLeaderboards(em(), limit, cursor);
      return { leaderboards: page.boards.map((b) => runtimeLeaderboard(b, now())), ...(page.cursor ? { cursor: page.cursor } : {}) };
    },
    async leaderboardsGetId(ids: string[]) {
      return (await lb.getBoards(em(), ids)).filter((b) => !lb.isTournament(b)).map((b) => runtimeLeaderboard(b, now()));
    },
    async leaderboardRecordWrite(
      id: string,
      ownerId: string,
      username?: string | null,
      score?: Score,
      subscore?: Score,
      metadata?: Record<string, unknown> | null,
      overrideOperator?: unknown,
    ) {
      const board = await leaderboard(em(), id);
      return runtimeRecord(
        await writeLeaderboardRecord(em(), ports, board, 'server', write(ownerId, username, score, subscore, metadata, overrideOperator)),
      );
    },
    async leaderboardRecordDelete(id: string, ownerId: string): Promise<void> {
      await deleteLeaderboardRecord(em(), ports, await leaderboard(em(), id), 'server', uuid(ownerId));
    },
    async leaderboardRecordsList(
      id: string,
      ownerIds?: string[] | null,
      limit?: number | null,
      cursor?: string | null,
      overrideExpiry?: number | null,
    ) {
      const board = await leaderboard(em(), id);
      const owners = (ownerIds ?? []).map((o) => uuid(o));
      const list = await listRecords(em(), ports, board, {
        ownerIds: owners,
        ...(limit ? { limit: checkLimit(limit, 1000) } : owners.length === 0 || cursor ? { limit: 1 } : {}),
        ...(cursor ? { cursor } : {}),
        ...(overrideExpiry ? { expiry: overrideExpiry } : {}),
      });
      return runtimeRecordList(list);
    },
    async leaderboardRecordsHaystack(id: string, ownerId: string, limit = 10, cursor?: string | null, overrideExpiry?: number | null) {
      const board = await leaderboard(em(), id);
      return runtimeRecordList(
        await recordsAroundOwner(
          em(),
          ports,
          board,
          uuid(ownerId),
          checkLimit(limit, 100),
          cursor || undefined,
          overrideExpiry || undefined,
        ),
      );
    },
    ...tournamentNk(em, ports, write),
  };
}

function checkLimit(limit: number, max: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw invalid(`Invalid limit - limit must be between 1 and ${max}.`);
  return limit;
}

type WriteBuilder = (
  ownerId: string,
  username: string | null | undefined,
  score: Score | undefined,
  subscore: Score | undefined,
  metadata: Record<string, unknown> | null | undefined,
  op: unknown,
) => Parameters<typeof tn.writeTournamentRecord>[4];

function tournamentNk(em: () => Em, ports: lb.LeaderboardPorts, write: WriteBuilder) {
  const now = () => nowSec(ports);
  const tournament = (id: string) => tn.mustGetTournament(em(), id);
  return {
    async tournamentCreate(
      id: string,
      authoritative = true,
      sortOrder: unknown = 'descending',
      operator: unknown = 'best',
      duration = 0,
      resetSchedule?: string | null,
      metadata?: Record<string, unknown> | null,
      title?: string | null,
      description?: string | null,
      category?: number | null,
      startTime?: number | null,
      endTime?: number | null,
      maxSize?: number | null,
      maxNumScore?: number | null,
      joinRequired = false,
      enableRanks = true,
    ): Promise<void> {
      await tn.createTournament(em(), ports, {
        id,
        authoritative,
        sortOrder: sortOrderOf(sortOrder),
        operator: operatorOf(operator),
        duration,
        resetSchedule: resetSchedule ?? null,
        metadata: metadata ?? null,
        title: title ?? '',
        description: description ?? '',
        category: category ?? 0,
        startTime: startTime ?? 0,
        endTime: endTime ?? 0,
        maxSize: maxSize ?? 0,
        maxNumScore: maxNumScore ?? 0,
        joinRequired,
        enableRanks,
      });
    },
    async tournamentDelete(id: string): Promise<void> {
      const t = await lb.getBoard(em(), id);
      if (t && lb.isTournament(t)) await lb.deleteBoard(em(), ports, id);
    },
    async tournamentJoin(id: string, ownerId: string, username: string): Promise<void> {
      await tn.joinTournament(em(), ports, await tournament(id), uuid(ownerId), username);
    },
    async tournamentAddAttempt(id: string, ownerId: string, count: number): Promise<void> {
      await tn.addAttempts(em(), ports, await tournament(id), uuid(ownerId), count);
    },
    async tournamentList(
      categoryStart?: number | null,
      categoryEnd?: number | null,
      startTime?: number | null,
      endTime?: number | null,
      limit = 10,
      cursor?: string | null,
    ) {
      const page = await tn.listTournaments(em(), ports, {
        ...(categoryStart != null ? { categoryStart } : {}),
        ...(categoryEnd != null ? { categoryEnd } : {}),
        ...(startTime != null ? { startTime } : {}),
        ...(endTime != null ? { endTime } : {}),
        limit,
        ...(cursor ? { cursor } : {}),
      });
      return { tournaments: page.tournaments.map((t) => runtimeTournament(t, now())), ...(page.cursor ? { cursor: page.cursor } : {}) };
    },
    async tournamentsGetId(ids: string[]) {
      return (await lb.getBoards(em(), ids)).filter(lb.isTournament).map((t) => runtimeTournament(t, now()));
    },
    async tournamentRecordWrite(
      id: string,
      ownerId: string,
      username?: string | null,
      score?: Score,
      subscore?: Score,
      metadata?: Record<string, unknown> | null,
      overrideOperator?: unknown,
    ) {
      const t = await tournament(id);
      return runtimeRecord(
        await tn.writeTournamentRecord(em(), ports, t, 'server', write(ownerId, username, score, subscore, metadata, overrideOperator)),
      );
    },
    async tournamentRecordDelete(id: string, ownerId: string): Promise<void> {
      await tn.deleteTournamentRecord(em(), ports, await tournament(id), 'server', uuid(ownerId));
    },
    async tournamentRecordsList(
      id: string,
      ownerIds?: string[] | null,
      limit?: number | null,
      cursor?: string | null,
      overrideExpiry?: number | null,
    ) {
      const t = await tournament(id);
      if (!overrideExpiry && t.endTime > 0 && t.endTime <= now()) throw notFound('Tournament has ended.');
      const owners = (ownerIds ?? []).map((o) => uuid(o));
      const list = await listRecords(em(), ports, t, {
        ownerIds: owners,
        ...(limit ? { limit: checkLimit(limit, 1000) } : owners.length === 0 || cursor ? { limit: 1 } : {}),
        ...(cursor ? { cursor } : {}),
        ...(overrideExpiry ? { expiry: overrideExpiry } : {}),
      });
      return runtimeRecordList(list);
    },
    async tournamentRecordsHaystack(id: string, ownerId: string, limit = 10, cursor?: string | null, expiry?: number | null) {
      const t = await tournament(id);
      return runtimeRecordList(
        await recordsAroundOwner(em(), ports, t, uuid(ownerId), checkLimit(limit, 100), cursor || undefined, expiry || undefined),
      );
    },
  };
}
