import { defineEntity, p } from '@mikro-orm/postgresql';

/**
 * A leaderboard or, when `duration > 0`, a tournament (Nakama keeps both in `leaderboard`).
 * sort_order: 0 ascending, 1 descending; operator: 0 best, 1 set, 2 increment, 3 decrement.
 * `size` counts the owners of the period whose expiry is `size_expiry`.
 */
export const LeaderboardSchema = defineEntity({
  name: 'Leaderboard',
  tableName: 'leaderboard',
  properties: {
    id: p.string().length(128).primary(),
    authoritative: p.boolean().default(false),
    sortOrder: p.smallint().default(1),
    operator: p.smallint().default(0),
    resetSchedule: p.string().length(128).nullable(),
    metadata: p.json<Record<string, unknown>>().default('{}'),
    enableRanks: p.boolean().default(true),
    createTime: p.datetime().defaultRaw('now()'),
    category: p.smallint().default(0),
    description: p.string().length(255).default(''),
    duration: p.integer().default(0),
    startTime: p.datetime().nullable(),
    endTime: p.datetime().nullable(),
    joinRequired: p.boolean().default(false),
    maxSize: p.integer().default(0),
    maxNumScore: p.integer().default(0),
    title: p.string().length(255).default(''),
    size: p.integer().default(0),
    sizeExpiry: p.bigint().default(0),
  },
});
export class Leaderboard extends LeaderboardSchema.class {}
LeaderboardSchema.setClass(Leaderboard);

/**
 * One owner's record in one period of a leaderboard (`expiry_time` in seconds, 0: never resets).
 * `rank_time` (µs) is when the owner reached the current score; `rank_key` is generated from
 * score, subscore, rank_time and owner in rank order (see src/services/rank-cache.ts).
 */
export const LeaderboardRecordSchema = defineEntity({
  name: 'LeaderboardRecord',
  tableName: 'leaderboard_record',
  properties: {
    leaderboardId: p.string().length(128).primary(),
    expiryTime: p.bigint().primary(),
    ownerId: p.uuid().primary(),
    descending: p.boolean(),
    username: p.string().length(128).nullable(),
    score: p.bigint().default(0),
    subscore: p.bigint().default(0),
    numScore: p.integer().default(1),
    maxNumScore: p.integer().default(0),
    metadata: p.json<Record<string, unknown>>().default('{}'),
    createTime: p.datetime().defaultRaw('now()'),
    updateTime: p.datetime().defaultRaw('now()'),
    rankTime: p.bigint(),
    rankKey: p.text().persist(false),
  },
});
export class LeaderboardRecord extends LeaderboardRecordSchema.class {}
LeaderboardRecordSchema.setClass(LeaderboardRecord);

/** A claimed period end ('reset' or 'end' at `at`, seconds): its hooks ran, or are running, somewhere. */
export const LeaderboardEventSchema = defineEntity({
  name: 'LeaderboardEvent',
  tableName: 'leaderboard_event',
  properties: {
    leaderboardId: p.string().length(128).primary(),
    kind: p.string().length(8).primary(),
    at: p.bigint().primary(),
    claimTime: p.datetime().defaultRaw('now()'),
  },
});
export class LeaderboardEvent extends LeaderboardEventSchema.class {}
LeaderboardEventSchema.setClass(LeaderboardEvent);
