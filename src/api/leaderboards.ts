/** Leaderboard endpoints (Nakama REST v2): write, delete and list records, and records around an owner. */
import { z } from 'zod';
import { invalid } from '../errors.js';
import type { LeaderboardPorts } from '../services/leaderboards.js';
import * as boards from '../services/leaderboards.js';
import { deleteLeaderboardRecord, toScore, writeLeaderboardRecord, type RecordView } from '../services/leaderboard-records.js';
import { listRecords, recordsAroundOwner, type RecordList } from '../services/leaderboard-reads.js';
import * as v from '../services/validation.js';
import { endpoint, type Endpoint } from './pipeline.js';
import { qArray, qString } from './schema.js';
import { protoTime } from './wire.js';

export interface LeaderboardApiDeps {
  leaderboards: LeaderboardPorts;
}

/** Nakama sends timestamps in whole seconds. */
const seconds = (d: Date) => protoTime(new Date(Math.floor(d.getTime() / 1000) * 1000));

/** Nakama's `LeaderboardRecord` on the wire: int64 as strings, zero values omitted. */
export function wireRecord(r: RecordView) {
  return {
    leaderboard_id: r.leaderboardId,
    owner_id: r.ownerId,
    ...(r.username !== undefined ? { username: r.username } : {}),
    ...(r.score !== 0n ? { score: r.score.toString() } : {}),
    ...(r.subscore !== 0n ? { subscore: r.subscore.toString() } : {}),
    ...(r.numScore ? { num_score: r.numScore } : {}),
    metadata: r.metadata,
    create_time: seconds(r.createTime),
    update_time: seconds(r.updateTime),
    ...(r.expiryTime ? { expiry_time: protoTime(new Date(r.expiryTime * 1000)) } : {}),
    ...(r.rank ? { rank: String(r.rank) } : {}),
    ...(r.maxNumScore ? { max_num_score: r.maxNumScore } : {}),
  };
}

/** Nakama's `LeaderboardRecordList` (and `TournamentRecordList`, the same shape). */
export function wireRecordList(l: RecordList) {
  return {
    ...(l.records.length > 0 ? { records: l.records.map(wireRecord) } : {}),
    ...(l.ownerRecords.length > 0 ? { owner_records: l.ownerRecords.map(wireRecord) } : {}),
    ...(l.nextCursor ? { next_cursor: l.nextCursor } : {}),
    ...(l.prevCursor ? { prev_cursor: l.prevCursor } : {}),
    ...(l.rankCount ? { rank_count: String(l.rankCount) } : {}),
  };
}

const API_OPERATORS: Record<string, boards.Operator | undefined> = {
  '0': undefined,
  NO_OVERRIDE: undefined,
  '1': boards.Operator.BEST,
  BEST: boards.Operator.BEST,
  '2': boards.Operator.SET,
  SET: boards.Operator.SET,
  '3': boards.Operator.INCREMENT,
  INCREMENT: boards.Operator.INCREMENT,
  '4': boards.Operator.DECREMENT,
  DECREMENT: boards.Operator.DECREMENT,
};

/** api.Operator (a number or its enum name) as the services' operator; undefined for NO_OVERRIDE. */
function apiOperator(o: number | string | undefined): boards.Operator | undefined {
  if (o === undefined) return undefined;
  const key = String(o).toUpperCase();
  if (!(key in API_OPERATORS)) throw invalid('Invalid operator.');
  return API_OPERATORS[key];
}

const int64 = z.union([z.string(), z.number()]).optional();

/**
 * The record of a write request (`body: "record"`), kept in its wire form so a before hook sees
 * and returns what the client sent; `recordOf` converts it.
 */
export const recordWrite = z
  .object({ score: int64, subscore: int64, metadata: z.string().optional(), operator: z.union([z.number(), z.string()]).optional() })
  .optional()
  .refine((r) => r !== undefined, 'Invalid input, record score value is required.');

/** A write request's record as the services take it. */
export function recordOf(
  r: { score?: string | number; subscore?: string | number; metadata?: string; operator?: string | number } | undefined,
) {
  const operator = apiOperator(r!.operator);
  return {
    score: toScore(r!.score),
    subscore: toScore(r!.subscore, 'subscore'),
    ...(r!.metadata ? { metadata: r!.metadata } : {}),
    ...(operator !== undefined ? { operator } : {}),
  };
}

const limitOf = (max: number) =>
  z.coerce
    .number()
    .int(`Invalid limit - limit must be between 1 and ${max}.`)
    .min(1, `Invalid limit - limit must be between 1 and ${max}.`)
    .max(max, `Invalid limit - limit must be between 1 and ${max}.`)
    .optional();

const expiry = z.preprocess((x) => (Array.isArray(x) ? x[x.length - 1] : x), z.coerce.number().int().nonnegative().optional());

export const listRequest = (idField: string, max: number) =>
  z.object({
    [idField]: z.string().min(1, 'Invalid leaderboard ID.'),
    owner_ids: qArray(z.string()).optional(),
    limit: limitOf(max),
    cursor: qString.optional(),
    expiry,
  });

export const aroundRequest = (idField: string) =>
  z.object({
    [idField]: z.string().min(1, 'Invalid leaderboard ID.'),
    owner_id: z.string().min(1, 'Owner ID must be provided for a haystack query.'),
    limit: limitOf(100),
    cursor: qString.optional(),
    expiry,
  });

/** Owner ids of a list request, checked. */
export function ownerIds(ids: readonly string[] | undefined): string[] {
  for (const id of ids ?? []) if (!v.uuid.safeParse(id).success) throw invalid('One or more owner IDs are invalid.');
  return [...(ids ?? [])];
}

export function checkOwner(id: string): string {
  if (!v.uuid.safeParse(id).success) throw invalid('Invalid owner ID provided.');
  return id;
}

/**
 * Nakama's default page: with no limit, one record, except that owner ids without a cursor ask for
 * the owners' records only.
 */
export const pageLimit = (limit: number | undefined, owners: readonly string[], cursor?: string) =>
  limit ?? (owners.length === 0 || cursor ? 1 : undefined);

export function leaderboardEndpoints({ leaderboards: ports }: LeaderboardApiDeps): Endpoint[] {
  return [
    endpoint({
      operation: 'WriteLeaderboardRecord',
      method: 'POST',
      path: '/v2/leaderboard/:leaderboard_id',
      auth: 'session',
      body: 'record',
      request: z.object({ leaderboard_id: z.string().min(1, 'Invalid leaderboard ID.'), record: recordWrite }),
      async handler(req, ctx) {
        const board = await boards.mustGetLeaderboard(ctx.em, req.leaderboard_id);
        const s = ctx.session!;
        const record = await writeLeaderboardRecord(
          ctx.em,
          ports,
          board,
          { userId: s.userId },
          { ownerId: s.userId, username: s.username, ...recordOf(req.record) },
        );
        return wireRecord(record);
      },
    }),
    endpoint({
      operation: 'DeleteLeaderboardRecord',
      method: 'DELETE',
      path: '/v2/leaderboard/:leaderboard_id',
      auth: 'session',
      request: z.object({ leaderboard_id: z.string().min(1, 'Invalid leaderboard ID.') }),
      async handler(req, ctx) {
        const board = await boards.mustGetLeaderboard(ctx.em, req.leaderboard_id);
        await deleteLeaderboardRecord(ctx.em, ports, board, { userId: ctx.session!.userId }, ctx.session!.userId);
        return {};
      },
    }),
    endpoint({
      operation: 'ListLeaderboardRecords',
      method: 'GET',
      path: '/v2/leaderboard/:leaderboard_id',
      auth: 'session',
      request: listRequest('leaderboard_id', 1000),
      async handler(req, ctx) {
        const board = await boards.mustGetLeaderboard(ctx.em, req.leaderboard_id as string);
        const owners = ownerIds(req.owner_ids as string[] | undefined);
        const cursor = req.cursor as string | undefined;
        const limit = pageLimit(req.limit as number | undefined, owners, cursor);
        const list = await listRecords(ctx.em, ports, board, {
          ownerIds: owners,
          ...(limit !== undefined ? { limit } : {}),
          ...(cursor ? { cursor } : {}),
          ...(req.expiry ? { expiry: req.expiry as number } : {}),
        });
        return wireRecordList(list);
      },
    }),
    endpoint({
      operation: 'ListLeaderboardRecordsAroundOwner',
      method: 'GET',
      path: '/v2/leaderboard/:leaderboard_id/owner/:owner_id',
      auth: 'session',
      request: aroundRequest('leaderboard_id'),
      async handler(req, ctx) {
        const board = await boards.mustGetLeaderboard(ctx.em, req.leaderboard_id as string);
        const list = await recordsAroundOwner(
          ctx.em,
          ports,
          board,
          checkOwner(req.owner_id as string),
          (req.limit as number | undefined) ?? 1,
          (req.cursor as string | undefined) || undefined,
          (req.expiry as number | undefined) || undefined,
        );
        return wireRecordList(list);
      },
    }),
  ];
}
