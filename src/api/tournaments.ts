/** Tournament endpoints (Nakama REST v2): list, join, write (PUT and POST), delete, list records and records around an owner. */
import { z } from 'zod';
import { notFound } from '../errors.js';
import { listRecords, recordsAroundOwner } from '../services/leaderboard-reads.js';
import { nowSec } from '../services/leaderboard-records.js';
import * as tn from '../services/tournaments.js';
import { endpoint, type Endpoint } from './pipeline.js';
import {
  aroundRequest,
  checkOwner,
  listRequest,
  ownerIds,
  pageLimit,
  recordOf,
  recordWrite,
  wireRecord,
  wireRecordList,
  type LeaderboardApiDeps,
} from './leaderboards.js';
import { protoTime } from './wire.js';

const time = (sec: number) => protoTime(new Date(sec * 1000));

/** Nakama's `Tournament` on the wire (enums as numbers, zero values omitted). */
export function wireTournament(t: tn.TournamentView) {
  const out: Record<string, unknown> = {
    id: t.id,
    title: t.title,
    description: t.description,
    category: t.category,
    sort_order: t.sortOrder,
    size: t.size,
    max_size: t.maxSize,
    max_num_score: t.maxNumScore,
    can_enter: t.canEnter,
    end_active: t.endActive,
    next_reset: t.nextReset,
    metadata: t.metadata,
    create_time: time(t.createTime),
    start_time: time(t.startTime),
    ...(t.endTime ? { end_time: time(t.endTime) } : {}),
    duration: t.duration,
    start_active: t.startActive,
    prev_reset: t.prevReset,
    // api.Operator: BEST 1, SET 2, INCREMENT 3, DECREMENT 4.
    operator: t.operator + 1,
    authoritative: t.authoritative,
    join_required: t.joinRequired,
  };
  for (const [k, v] of Object.entries(out)) if (v === 0 || v === false || v === '') delete out[k];
  return out;
}

const uint = (what: string) =>
  z.preprocess(
    (x) => (Array.isArray(x) ? x[x.length - 1] : x),
    z.coerce.number().int(`Invalid ${what}.`).nonnegative(`Invalid ${what}.`).optional(),
  );

const idField = { tournament_id: z.string().min(1, 'Tournament ID must be provided.') };

export function tournamentEndpoints({ leaderboards: ports }: LeaderboardApiDeps): Endpoint[] {
  const write = (method: 'PUT' | 'POST') =>
    endpoint({
      operation: 'WriteTournamentRecord',
      method,
      path: '/v2/tournament/:tournament_id',
      auth: 'session',
      body: 'record',
      request: z.object({ ...idField, record: recordWrite }),
      async handler(req, ctx) {
        const t = await tn.mustGetTournament(ctx.em, req.tournament_id);
        const s = ctx.session!;
        const record = await tn.writeTournamentRecord(
          ctx.em,
          ports,
          t,
          { userId: s.userId },
          { ownerId: s.userId, username: s.username, ...recordOf(req.record) },
        );
        return wireRecord(record);
      },
    });
  return [
    endpoint({
      operation: 'ListTournaments',
      method: 'GET',
      path: '/v2/tournament',
      auth: 'session',
      request: z.object({
        category_start: uint('category start'),
        category_end: uint('category end'),
        start_time: uint('start time'),
        end_time: uint('end time'),
        limit: uint('limit'),
        cursor: z.preprocess((x) => (Array.isArray(x) ? x[x.length - 1] : x), z.string().optional()),
      }),
      async handler(req, ctx) {
        const page = await tn.listTournaments(ctx.em, ports, {
          ...(req.category_start !== undefined ? { categoryStart: req.category_start } : {}),
          ...(req.category_end !== undefined ? { categoryEnd: req.category_end } : {}),
          ...(req.start_time !== undefined ? { startTime: req.start_time } : {}),
          ...(req.end_time !== undefined ? { endTime: req.end_time } : {}),
          limit: req.limit ?? 100,
          ...(req.cursor ? { cursor: req.cursor } : {}),
        });
        return {
          ...(page.tournaments.length > 0 ? { tournaments: page.tournaments.map(wireTournament) } : {}),
          ...(page.cursor ? { cursor: page.cursor } : {}),
        };
      },
    }),
    endpoint({
      operation: 'JoinTournament',
      method: 'POST',
      path: '/v2/tournament/:tournament_id/join',
      auth: 'session',
      request: z.object(idField),
      async handler(req, ctx) {
        const t = await tn.mustGetTournament(ctx.em, req.tournament_id);
        await tn.joinTournament(ctx.em, ports, t, ctx.session!.userId, ctx.session!.username);
        return {};
      },
    }),
    write('PUT'),
    write('POST'),
    endpoint({
      operation: 'DeleteTournamentRecord',
      method: 'DELETE',
      path: '/v2/tournament/:tournament_id',
      auth: 'session',
      request: z.object(idField),
      async handler(req, ctx) {
        const t = await tn.mustGetTournament(ctx.em, req.tournament_id);
        await tn.deleteTournamentRecord(ctx.em, ports, t, { userId: ctx.session!.userId }, ctx.session!.userId);
        return {};
      },
    }),
    endpoint({
      operation: 'ListTournamentRecords',
      method: 'GET',
      path: '/v2/tournament/:tournament_id',
      auth: 'session',
      request: listRequest('tournament_id', 100),
      async handler(req, ctx) {
        const t = await tn.mustGetTournament(ctx.em, req.tournament_id as string);
        const expiry = req.expiry as number | undefined;
        if (!expiry && t.endTime > 0 && t.endTime <= nowSec(ports)) throw notFound('Tournament has ended.');
        const owners = ownerIds(req.owner_ids as string[] | undefined);
        const cursor = req.cursor as string | undefined;
        const limit = pageLimit(req.limit as number | undefined, owners, cursor);
        const list = await listRecords(ctx.em, ports, t, {
          ownerIds: owners,
          ...(limit !== undefined ? { limit } : {}),
          ...(cursor ? { cursor } : {}),
          ...(expiry ? { expiry } : {}),
        });
        return wireRecordList(list);
      },
    }),
    endpoint({
      operation: 'ListTournamentRecordsAroundOwner',
      method: 'GET',
      path: '/v2/tournament/:tournament_id/owner/:owner_id',
      auth: 'session',
      request: aroundRequest('tournament_id'),
      async handler(req, ctx) {
        const t = await tn.mustGetTournament(ctx.em, req.tournament_id as string);
        const list = await recordsAroundOwner(
          ctx.em,
          ports,
          t,
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
